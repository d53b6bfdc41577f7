from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.clock import WIB, utcnow, wib_date, wib_end_of_day
from app.demo_fixtures import BUDI, FIXTURES, JOKO, RINA, SARAH, DemoFixture
from tests.api.routes.test_admin_points import ADMIN_BY_WA, earn_body, spend_body
from tests.utils import new_partner

BY_WA = "/api/v1/partners/by-wa"


# --- balance ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_fixture_balances(client: TestClient, auth: dict, seeded: datetime, fixture: DemoFixture):
    response = client.get(f"{BY_WA}/{fixture.wa_id}/balance", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["wa_id"] == fixture.wa_id
    assert body["available_points"] == fixture.available_points
    assert body["lifetime_earned"] == fixture.lifetime_earned
    assert body["expiring_soon_points"] == fixture.expiring_30d_points
    if fixture.expiring_in_days is None:
        assert body["expiring_soon_date"] is None
    else:
        expected = wib_date(seeded + timedelta(days=fixture.expiring_in_days))
        assert body["expiring_soon_date"] == expected.isoformat()
    as_of = datetime.fromisoformat(body["as_of"])
    assert body["as_of"].endswith("+00:00")
    assert abs((as_of - utcnow()).total_seconds()) < 60


def test_budi_has_round_expiring_points(client: TestClient, auth: dict, seeded: datetime):
    body = client.get(f"{BY_WA}/{BUDI.wa_id}/balance", headers=auth).json()
    assert (body["available_points"], body["expiring_soon_points"]) == (7500, 1000)


# --- history ---------------------------------------------------------------------------


def test_history_pages_newest_first(client: TestClient, auth: dict, seeded: datetime) -> None:
    seen: list[dict] = []
    for offset in (0, 4, 8):
        response = client.get(
            f"{BY_WA}/{BUDI.wa_id}/history", params={"limit": 4, "offset": offset}, headers=auth
        )
        assert response.status_code == 200
        page = response.json()
        assert (page["total"], page["limit"], page["offset"]) == (10, 4, offset)
        seen.extend(page["items"])
    assert len(seen) == 10
    assert len({item["id"] for item in seen}) == 10
    stamps = [datetime.fromisoformat(item["created_at"]) for item in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert all(item["created_at"].endswith("+00:00") for item in seen)
    # The newest entry's balance_after is the balance; the oldest is the welcome bonus.
    assert seen[0]["balance_after"] == BUDI.available_points
    assert seen[-1]["reason"] == "welcome_bonus"
    assert {item["reason"] for item in seen} == {
        "welcome_bonus",
        "claim",
        "redemption",
        "quiz",
        "expiry",
        "campaign_bonus",
    }
    assert set(seen[0]) == {
        "id",
        "created_at",
        "delta",
        "reason",
        "reference_type",
        "reference_id",
        "description",
        "balance_after",
    }


def test_history_default_and_past_the_end(client: TestClient, auth: dict, seeded: datetime):
    page = client.get(f"{BY_WA}/{BUDI.wa_id}/history", headers=auth).json()
    assert (page["limit"], page["offset"], len(page["items"])) == (10, 0, 10)
    beyond = client.get(f"{BY_WA}/{BUDI.wa_id}/history", params={"offset": 50}, headers=auth).json()
    assert beyond["items"] == [] and beyond["total"] == 10


def test_history_since(client: TestClient, auth: dict, seeded: datetime) -> None:
    since = wib_date(seeded - timedelta(days=100))
    page = client.get(
        f"{BY_WA}/{BUDI.wa_id}/history", params={"since": since.isoformat()}, headers=auth
    ).json()
    # claims 90 and 40 days ago, the expiry 25 days ago, the campaign bonus 10 days ago
    assert page["total"] == 4
    assert [i["reason"] for i in page["items"]] == ["campaign_bonus", "expiry", "claim", "claim"]


def test_history_of_new_partner_is_empty(client: TestClient, auth: dict, seeded: datetime):
    page = client.get(f"{BY_WA}/{RINA.wa_id}/history", headers=auth).json()
    assert page == {"items": [], "total": 0, "limit": 10, "offset": 0}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"limit": "ten"},
        {"limit": 1.5},
        {"offset": -1},
        {"offset": "x"},
        {"since": "yesterday"},
        {"since": "2024-13-01"},
        {"since": "0001-01-01"},
        {"since": "9999-12-31"},
        {"limit": "99999999999999999999"},
    ],
)
def test_history_rejects_bad_query(client: TestClient, auth: dict, seeded: datetime, params):
    response = client.get(f"{BY_WA}/{BUDI.wa_id}/history", params=params, headers=auth)
    assert response.status_code == 422
    assert response.json()["detail"]


# --- expiring --------------------------------------------------------------------------


def test_expiring_lots(client: TestClient, auth: dict, seeded: datetime) -> None:
    within_30 = client.get(
        f"{BY_WA}/{BUDI.wa_id}/expiring", params={"within_days": 30}, headers=auth
    ).json()
    assert within_30["total_points"] == 1000
    assert within_30["within_days"] == 30
    [lot] = within_30["lots"]
    assert lot["points"] == 1000 and lot["reason"] == "claim"
    # Earned 345 days before the seed's WIB day began; usable to the end of the WIB day
    # 20 days after the seed's date.
    expires_on = wib_date(seeded) + timedelta(days=20)
    assert lot["expires_on"] == expires_on.isoformat()
    assert datetime.fromisoformat(lot["expires_at"]) == wib_end_of_day(expires_on)
    assert datetime.fromisoformat(lot["expires_at"]).astimezone(WIB).time().isoformat() == (
        "23:59:59.999999"
    )
    assert wib_date(datetime.fromisoformat(lot["earned_at"])) == expires_on - timedelta(days=365)

    everything = client.get(
        f"{BY_WA}/{BUDI.wa_id}/expiring", params={"within_days": 3650}, headers=auth
    ).json()
    assert everything["total_points"] == BUDI.available_points
    expiries = [datetime.fromisoformat(x["expires_at"]) for x in everything["lots"]]
    assert expiries == sorted(expiries)
    assert all(x["points"] > 0 for x in everything["lots"])
    assert all(
        x["expires_on"] == wib_date(datetime.fromisoformat(x["expires_at"])).isoformat()
        for x in everything["lots"]
    )


def test_expiring_default_window(client: TestClient, auth: dict, seeded: datetime) -> None:
    body = client.get(f"{BY_WA}/{JOKO.wa_id}/expiring", headers=auth).json()
    assert body["within_days"] == 90
    assert body["total_points"] == 100  # the welcome bonus, 300 days old
    assert client.get(f"{BY_WA}/{RINA.wa_id}/expiring", headers=auth).json() == {
        "total_points": 0,
        "within_days": 90,
        "lots": [],
    }


@pytest.mark.parametrize("within_days", [0, -5, 3651, "soon", ""])
def test_expiring_rejects_bad_window(client: TestClient, auth: dict, seeded, within_days):
    response = client.get(
        f"{BY_WA}/{BUDI.wa_id}/expiring", params={"within_days": within_days}, headers=auth
    )
    assert response.status_code == 422


# --- reads after admin adjustments ---------------------------------------------------


def test_earn_with_short_expiry(
    client: TestClient, auth: dict, admin_auth: dict, session: Session
) -> None:
    partner = new_partner(session)
    body = earn_body(reason="campaign_bonus", reference_type="campaign", expires_in_days=7)
    url = f"{ADMIN_BY_WA}/{partner.wa_id}/points/earn"
    assert client.post(url, json=body, headers=admin_auth).status_code == 201
    balance = client.get(f"{BY_WA}/{partner.wa_id}/balance", headers=auth).json()
    assert balance["expiring_soon_points"] == 500
    assert balance["expiring_soon_date"] == (wib_date(utcnow()) + timedelta(days=7)).isoformat()
    [lot] = client.get(f"{BY_WA}/{partner.wa_id}/expiring", headers=auth).json()["lots"]
    assert lot["expires_on"] == balance["expiring_soon_date"]


def test_spending_from_a_seeded_fixture(
    client: TestClient, auth: dict, admin_auth: dict, seeded: datetime
) -> None:
    url = f"{ADMIN_BY_WA}/{SARAH.wa_id}/points/spend"
    response = client.post(url, json=spend_body(points=750), headers=admin_auth)
    assert response.status_code == 201
    base = f"{BY_WA}/{SARAH.wa_id}"
    assert client.get(f"{base}/balance", headers=auth).json()["available_points"] == 0
    assert client.get(f"{base}/history", headers=auth).json()["total"] == 6


def test_since_is_a_wib_date(
    client: TestClient, auth: dict, admin_auth: dict, session: Session
) -> None:
    partner = new_partner(session)
    client.post(f"{ADMIN_BY_WA}/{partner.wa_id}/points/earn", json=earn_body(), headers=admin_auth)
    today = wib_date(utcnow())
    for since, total in ((today, 1), (today + timedelta(days=1), 0), (date(2000, 1, 1), 1)):
        page = client.get(
            f"{BY_WA}/{partner.wa_id}/history", params={"since": since.isoformat()}, headers=auth
        ).json()
        assert page["total"] == total


def test_erp_reads_the_ledger_too(client: TestClient, erp_auth: dict, seeded: datetime) -> None:
    body = client.get(f"{BY_WA}/{BUDI.wa_id}/balance", headers=erp_auth).json()
    assert body["available_points"] == BUDI.available_points
    assert client.get(f"{BY_WA}/{BUDI.wa_id}/history", headers=erp_auth).json()["total"] == 10
