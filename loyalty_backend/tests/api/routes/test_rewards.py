"""The partner-facing reward routes (service token), as docs/contracts.md pins them down."""

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo_fixtures import ANDI, BUDI, RINA, SARAH
from app.models import Partner
from app.models.enums import PartnerStatus
from app.services import partners
from tests.rewards_utils import ADDRESS

BY_WA = "/api/v1/partners/by-wa"
REWARD_VIEW_KEYS = {
    "code",
    "name",
    "description",
    "kind",
    "kind_label",
    "cost",
    "affordable",
    "points_short",
    "in_stock",
    "stock_left",
    "needs_address",
    "image_url",
    "unavailable",
}
REDEMPTION_KEYS = {
    "redemption_no",
    "reward_code",
    "reward_name",
    "kind",
    "status",
    "status_label",
    "points_spent",
    "balance_after",
    "voucher_code",
    "voucher_expires_at",
    "delivery_address",
    "courier",
    "tracking_no",
    "refunded_points",
    "note",
    "created_at",
    "updated_at",
}


def _redeem(client: TestClient, auth: dict, wa_id: str, code: str, key: str, **extra: object):
    body = {"reward_code": code, "idempotency_key": key, **extra}
    return client.post(f"{BY_WA}/{wa_id}/redemptions", json=body, headers=auth)


def test_budi_sees_what_he_may_redeem(client: TestClient, auth: dict, seeded: datetime) -> None:
    response = client.get(f"{BY_WA}/{BUDI.wa_id}/rewards", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert (body["balance"], body["expiring_soon_points"]) == (7500, 1000)
    assert body["expiring_soon_date"] is not None
    assert (body["total"], body["limit"], body["offset"]) == (6, 9, 0)
    assert [item["code"] for item in body["items"]] == [
        "PULSA-25K",
        "VCR-50K",
        "VCR-100K",
        "KAOS-MITRA",
        "RAK-DISPLAY",
        "CASHBACK-250K",
    ]
    assert all(set(item) == REWARD_VIEW_KEYS for item in body["items"])
    voucher = body["items"][1]
    assert voucher["kind_label"] == {"id": "Voucher belanja", "en": "Shopping vouchers"}
    assert (voucher["stock_left"], voucher["in_stock"], voucher["needs_address"]) == (
        200,
        True,
        False,
    )
    assert body["items"][3]["needs_address"] is True
    assert body["items"][0]["stock_left"] is None  # unlimited
    assert all(item["affordable"] and item["unavailable"] is None for item in body["items"])


def test_sarah_sees_what_she_cannot_afford_yet(
    client: TestClient, auth: dict, seeded: datetime
) -> None:
    items = client.get(f"{BY_WA}/{SARAH.wa_id}/rewards", headers=auth).json()["items"]
    assert "CASHBACK-250K" not in {i["code"] for i in items}  # Silver
    by_code = {i["code"]: i for i in items}
    assert by_code["PULSA-25K"]["affordable"] is True
    voucher = by_code["VCR-50K"]
    assert (voucher["affordable"], voucher["points_short"]) == (False, 250)
    assert voucher["unavailable"] == {
        "code": "insufficient_points",
        "description": {
            "id": "Poin Anda kurang 250 poin untuk hadiah ini.",
            "en": "You need 250 more points for this reward.",
        },
    }


def test_filters_words_and_pages(client: TestClient, auth: dict, seeded: datetime) -> None:
    url = f"{BY_WA}/{BUDI.wa_id}/rewards"

    def codes(**params: object) -> list[str]:
        response = client.get(url, params=params, headers=auth)
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()["items"]]

    assert codes(kind="voucher") == ["VCR-50K", "VCR-100K"]
    assert codes(q="voucher 50rb") == ["VCR-50K"]
    assert codes(q="voucher 50 ribu") == ["VCR-50K"]
    assert codes(q="pulsa") == ["PULSA-25K"]
    assert codes(q="kaos") == ["KAOS-MITRA"]
    assert codes(q="tv") == []  # Budi is Gold: the TV is Platinum only
    assert codes(limit=2, offset=1) == ["VCR-50K", "VCR-100K"]
    for bad in ({"kind": "car"}, {"limit": 0}, {"limit": 51}, {"offset": -1}, {"q": "x" * 101}):
        assert client.get(url, params=bad, headers=auth).status_code == 422, bad
    andi = client.get(f"{BY_WA}/{ANDI.wa_id}/rewards", params={"q": "tv"}, headers=auth)
    assert [item["code"] for item in andi.json()["items"]] == ["TV-43"]


def test_one_reward_also_when_not_redeemable(
    client: TestClient, auth: dict, seeded: datetime
) -> None:
    response = client.get(f"{BY_WA}/{BUDI.wa_id}/rewards/tv-43", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == REWARD_VIEW_KEYS
    assert body["unavailable"]["code"] == "not_eligible"
    assert body["unavailable"]["description"]["en"] == "This reward is only for Platinum partners."
    missing = client.get(f"{BY_WA}/{BUDI.wa_id}/rewards/NOPE", headers=auth)
    assert (missing.status_code, missing.json()) == (404, {"detail": "reward not found"})


def test_redeem_a_voucher_then_replay(client: TestClient, auth: dict, seeded: datetime) -> None:
    first = _redeem(client, auth, BUDI.wa_id, "VCR-50K", "wa:wamid.CONFIRM1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == REDEMPTION_KEYS
    assert body["redemption_no"].startswith("RDM-")
    assert (body["status"], body["kind"], body["points_spent"], body["balance_after"]) == (
        "fulfilled",
        "voucher",
        1000,
        6500,
    )
    assert body["status_label"] == {"id": "Selesai", "en": "Completed"}
    assert body["voucher_code"].startswith("M50K-") and body["voucher_expires_at"].endswith(
        "+00:00"
    )
    again = _redeem(client, auth, BUDI.wa_id, "VCR-50K", "wa:wamid.CONFIRM1")
    assert again.status_code == 200 and again.json() == body
    conflict = _redeem(client, auth, BUDI.wa_id, "PULSA-25K", "wa:wamid.CONFIRM1")
    assert conflict.status_code == 409
    assert conflict.json() == {
        "detail": "idempotency key already used for a different redemption",
        "code": "idempotency_conflict",
    }
    balance = client.get(f"{BY_WA}/{BUDI.wa_id}/balance", headers=auth).json()
    assert balance["available_points"] == 6500


def test_refusals_are_409_with_a_code(client: TestClient, auth: dict, seeded: datetime) -> None:
    short = _redeem(client, auth, SARAH.wa_id, "VCR-50K", "wa:s1")
    assert short.status_code == 409
    assert short.json()["code"] == "insufficient_points"
    assert short.json()["points_short"] == 250
    assert set(short.json()["description"]) == {"id", "en"}
    tier = _redeem(client, auth, BUDI.wa_id, "TV-43", "wa:b1")
    assert (tier.status_code, tier.json()["code"]) == (409, "not_eligible")
    assert "points_short" not in tier.json()
    unknown = _redeem(client, auth, BUDI.wa_id, "NOPE-1", "wa:b2")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "reward not found"})


def test_goods_need_an_address(
    client: TestClient, auth: dict, seeded: datetime, session: Session
) -> None:
    partner = session.scalars(select(Partner).where(Partner.wa_id == BUDI.wa_id)).one()
    partner.address = None
    session.commit()
    refused = _redeem(client, auth, BUDI.wa_id, "KAOS-MITRA", "wa:b1")
    assert (refused.status_code, refused.json()["code"]) == (409, "address_required")
    shipped = _redeem(client, auth, BUDI.wa_id, "KAOS-MITRA", "wa:b2", delivery_address=ADDRESS)
    assert shipped.status_code == 201
    assert (shipped.json()["status"], shipped.json()["delivery_address"]) == ("requested", ADDRESS)
    profile = client.get(f"{BY_WA}/{BUDI.wa_id}", headers=auth).json()
    assert profile["address"] == ADDRESS
    long = _redeem(client, auth, BUDI.wa_id, "KAOS-MITRA", "wa:b3", delivery_address="x" * 301)
    assert long.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"reward_code": "VCR-50K"},
        {"idempotency_key": "wa:x"},
        {"reward_code": "VCR-50K", "idempotency_key": "redemption:RDM-000001"},
        {"reward_code": "VCR-50K", "idempotency_key": "has space"},
        {"reward_code": "VCR 50K", "idempotency_key": "wa:x"},
        {"reward_code": "VCR-50K", "idempotency_key": "wa:x", "points": 1},
    ],
)
def test_bad_bodies_are_422(client: TestClient, auth: dict, seeded: datetime, body: dict) -> None:
    response = client.post(f"{BY_WA}/{BUDI.wa_id}/redemptions", json=body, headers=auth)
    assert response.status_code == 422, response.text


def test_a_partner_reads_only_their_own_redemptions(
    client: TestClient, auth: dict, seeded: datetime
) -> None:
    numbers = [
        _redeem(client, auth, BUDI.wa_id, code, f"wa:r{n}").json()["redemption_no"]
        for n, code in enumerate(["PULSA-25K", "VCR-50K", "KAOS-MITRA"])
    ]
    listed = client.get(f"{BY_WA}/{BUDI.wa_id}/redemptions", headers=auth).json()["items"]
    assert [r["redemption_no"] for r in listed] == numbers[::-1]
    assert listed[2]["status"] == "fulfilled"  # pulsa: the fake provider paid it at once
    assert listed[0]["delivery_address"] == BUDI.address
    limited = client.get(
        f"{BY_WA}/{BUDI.wa_id}/redemptions", params={"limit": 1}, headers=auth
    ).json()
    assert len(limited["items"]) == 1
    one = client.get(f"{BY_WA}/{BUDI.wa_id}/redemptions/{numbers[1]}", headers=auth)
    assert one.status_code == 200 and one.json()["voucher_code"].startswith("M50K-")
    other = client.get(f"{BY_WA}/{ANDI.wa_id}/redemptions/{numbers[1]}", headers=auth)
    assert (other.status_code, other.json()) == (404, {"detail": "redemption not found"})
    assert client.get(f"{BY_WA}/{ANDI.wa_id}/redemptions", headers=auth).json() == {"items": []}


def test_suspended_partners_read_but_do_not_redeem(
    client: TestClient, auth: dict, seeded: datetime, session: Session
) -> None:
    partners.set_status(session, BUDI.wa_id, PartnerStatus.SUSPENDED, actor="admin")
    assert client.get(f"{BY_WA}/{BUDI.wa_id}/rewards", headers=auth).status_code == 200
    refused = _redeem(client, auth, BUDI.wa_id, "VCR-50K", "wa:x")
    assert (refused.status_code, refused.json()) == (403, {"detail": "partner suspended"})
    partners.set_status(session, RINA.wa_id, PartnerStatus.LEFT, actor="admin")
    gone = client.get(f"{BY_WA}/{RINA.wa_id}/rewards", headers=auth)
    assert (gone.status_code, gone.json()) == (403, {"detail": "partner has left"})
