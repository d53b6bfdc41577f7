import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo_fixtures import ANDI, BUDI, FIXTURES, SARAH, STRANGER_WA_ID, DemoFixture
from app.models import AuditLog, Partner
from app.schemas.common import WA_ID_PATTERN
from tests.api.routes.test_admin_points import ADMIN_BY_WA, earn_body, spend_body
from tests.utils import assert_ledger_consistent, new_partner

BY_WA = "/api/v1/partners/by-wa"

# Partner routes, with the credential that may call each (who may call what is
# tests/api/test_authorization.py's job).
READS = ["", "/balance", "/tier", "/history", "/expiring"]
WRITES = [
    ("PUT", BY_WA + "/{wa}/language", {"language": "en"}, "auth"),
    ("POST", ADMIN_BY_WA + "/{wa}/points/earn", earn_body(), "admin_auth"),
    ("POST", ADMIN_BY_WA + "/{wa}/points/spend", spend_body(points=1), "admin_auth"),
]


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_seeded_fixture_profile(
    client: TestClient, auth: dict, seeded: datetime, fixture: DemoFixture
) -> None:
    response = client.get(f"{BY_WA}/{fixture.wa_id}", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["wa_id"] == fixture.wa_id
    assert body["name"] == fixture.name
    assert body["shop_name"] == fixture.shop_name
    assert body["role"] == fixture.role
    assert body["region"] == fixture.region
    assert body["language"] == fixture.language
    assert body["status"] == "active"
    assert body["opted_out"] is fixture.opted_out
    assert body["tier"]["code"] == fixture.tier
    assert body["address"] == fixture.address  # Rina has none
    assert set(body) == {
        "wa_id",
        "name",
        "shop_name",
        "role",
        "region",
        "language",
        "status",
        "tier",
        "opted_out",
        "parent_wa_id",
        "address",
    }


def test_parent_wa_id(client: TestClient, auth: dict, seeded: datetime) -> None:
    budi = client.get(f"{BY_WA}/{BUDI.wa_id}", headers=auth).json()
    assert budi["parent_wa_id"] == "6281300000001"
    andi = client.get(f"{BY_WA}/{ANDI.wa_id}", headers=auth).json()
    assert andi["parent_wa_id"] is None


@pytest.mark.parametrize("wa_id", [STRANGER_WA_ID, "6281299999999", "ID.unknown"])
def test_unknown_partner_is_404(
    client: TestClient, request: pytest.FixtureRequest, seeded: datetime, wa_id: str
) -> None:
    calls = [("GET", BY_WA + "/{wa}" + suffix, None, "auth") for suffix in READS] + WRITES
    for method, path, body, credential in calls:
        headers = request.getfixturevalue(credential)
        response = client.request(method, path.format(wa=wa_id), json=body, headers=headers)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "partner not found"}


@pytest.mark.parametrize(
    "wa_id",
    [
        "a" * 161,
        "abc$def",
        "628 1200",
        "%00",
        "628120000000%C3%A9",
        "x;drop",
        "a+b",
        "*",
        # Must start and end with a letter or digit:
        "a..",
        "-x",
        "x-",
        "_x",
        "x:",
        "...",
        ".x",
    ],
)
def test_malformed_wa_id_is_422(client: TestClient, auth: dict, wa_id: str) -> None:
    response = client.get(f"{BY_WA}/{wa_id}/balance", headers=auth)
    assert response.status_code == 422
    assert "wa_id" in str(response.json()["detail"])


@pytest.mark.parametrize("wa_id", [".", "..", "a..", "-x", "x-", "", "a" * 161, "a\nb", "é"])
def test_wa_id_pattern_refuses(wa_id: str) -> None:
    # "." and ".." are normalised away by HTTP clients before they reach the server (the
    # request would hit another route): the pattern itself must refuse them.
    assert re.fullmatch(WA_ID_PATTERN, wa_id) is None


@pytest.mark.parametrize(
    "wa_id", ["6281200000001", "a", "7", "ID.4f9c2a7e1b83", "a.b", "a-b_c:d.e", "A" + "b" * 159]
)
def test_wa_id_pattern_admits(wa_id: str) -> None:
    assert re.fullmatch(WA_ID_PATTERN, wa_id)


@pytest.mark.parametrize("wa_id", ["Z" + "x" * 158 + "9", "q", "US.a1-b2_c3:d4"])
def test_valid_wa_ids_work_end_to_end(
    client: TestClient, auth: dict, seeded: datetime, session: Session, wa_id: str
) -> None:
    assert len(wa_id) <= 160
    new_partner(session, wa_id=wa_id)
    response = client.get(f"{BY_WA}/{wa_id}/balance", headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["wa_id"] == wa_id
    assert client.get(f"{BY_WA}/{wa_id}", headers=auth).json()["wa_id"] == wa_id


def test_the_service_refuses_to_create_a_bad_wa_id(session: Session) -> None:
    for wa_id in (".", "..", "-x", "a" * 161):
        with pytest.raises(ValueError, match="wa_id"):
            new_partner(session, wa_id=wa_id)


def test_slash_in_wa_id_matches_no_route(client: TestClient, auth: dict) -> None:
    # An encoded "/" splits the path: no such route, a plain 404 (never a 500).
    response = client.get(f"{BY_WA}/62812%2F01/balance", headers=auth)
    assert response.status_code == 404


def test_wa_id_need_not_be_a_phone_number(client: TestClient, auth: dict, seeded: datetime):
    response = client.get(f"{BY_WA}/ID.4f9c2a7e1b83", headers=auth)
    assert response.status_code == 200
    assert response.json()["role"] == "field_seller"


def test_set_language(client: TestClient, auth: dict, seeded: datetime, session: Session):
    response = client.put(f"{BY_WA}/{SARAH.wa_id}/language", json={"language": "id"}, headers=auth)
    assert response.status_code == 200
    assert response.json()["language"] == "id"
    assert client.get(f"{BY_WA}/{SARAH.wa_id}", headers=auth).json()["language"] == "id"
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "partner.set_language")).one()
    assert audit.details == {"from": "en", "to": "id"}
    assert audit.actor == "service"
    # Setting the same language again is fine and writes nothing new.
    again = client.put(f"{BY_WA}/{SARAH.wa_id}/language", json={"language": "id"}, headers=auth)
    assert again.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"language": "fr"},
        {"language": "ID"},
        {"language": ""},
        {"language": None},
        {},
        {"language": "en", "extra": 1},
        [],
        "en",
    ],
)
def test_set_language_rejects_bad_input(
    client: TestClient, auth: dict, seeded: datetime, body: object
) -> None:
    response = client.put(f"{BY_WA}/{BUDI.wa_id}/language", json=body, headers=auth)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_set_language_rejects_broken_json(client: TestClient, auth: dict, seeded: datetime):
    response = client.put(
        f"{BY_WA}/{BUDI.wa_id}/language",
        content=b'{"language": ',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 422


# --- status: suspended and left partners -----------------------------------------------


def _set_status(client: TestClient, admin_auth: dict, wa_id: str, status: str) -> None:
    response = client.put(
        f"{ADMIN_BY_WA}/{wa_id}/status", json={"status": status}, headers=admin_auth
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"wa_id": wa_id, "status": status}


def test_suspended_partner_reads_but_cannot_write(
    client: TestClient,
    request: pytest.FixtureRequest,
    auth: dict,
    admin_auth: dict,
    seeded: datetime,
    session: Session,
) -> None:
    _set_status(client, admin_auth, SARAH.wa_id, "suspended")
    profile = client.get(f"{BY_WA}/{SARAH.wa_id}", headers=auth)
    assert profile.status_code == 200 and profile.json()["status"] == "suspended"
    for suffix in READS:
        assert client.get(f"{BY_WA}/{SARAH.wa_id}{suffix}", headers=auth).status_code == 200
    balance = client.get(f"{BY_WA}/{SARAH.wa_id}/balance", headers=auth).json()
    assert balance["available_points"] == SARAH.available_points
    for method, path, body, credential in WRITES:
        headers = request.getfixturevalue(credential)
        response = client.request(method, path.format(wa=SARAH.wa_id), json=body, headers=headers)
        assert response.status_code == 403, path
        assert response.json() == {"detail": "partner suspended"}
    partner_id = session.scalar(select(Partner.id).where(Partner.wa_id == SARAH.wa_id))
    assert assert_ledger_consistent(session, partner_id) == SARAH.available_points
    assert client.get(f"{BY_WA}/{SARAH.wa_id}", headers=auth).json()["language"] == "en"

    # Reinstated, the same writes work again.
    _set_status(client, admin_auth, SARAH.wa_id, "active")
    for method, path, body, credential in WRITES:
        headers = request.getfixturevalue(credential)
        response = client.request(method, path.format(wa=SARAH.wa_id), json=body, headers=headers)
        assert response.status_code in (200, 201), (path, response.text)


def test_left_partner_is_not_served(
    client: TestClient,
    request: pytest.FixtureRequest,
    auth: dict,
    erp_auth: dict,
    admin_auth: dict,
    seeded: datetime,
    session: Session,
) -> None:
    _set_status(client, admin_auth, BUDI.wa_id, "left")
    for headers in (auth, erp_auth):
        for suffix in READS:
            response = client.get(f"{BY_WA}/{BUDI.wa_id}{suffix}", headers=headers)
            assert response.status_code == 403, suffix
            assert response.json() == {"detail": "partner has left"}
    for method, path, body, credential in WRITES:
        headers = request.getfixturevalue(credential)
        response = client.request(method, path.format(wa=BUDI.wa_id), json=body, headers=headers)
        assert response.status_code == 403, path
        assert response.json() == {"detail": "partner has left"}
    partner_id = session.scalar(select(Partner.id).where(Partner.wa_id == BUDI.wa_id))
    assert assert_ledger_consistent(session, partner_id) == BUDI.available_points
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "partner.set_status")).one()
    assert (audit.actor, audit.details) == ("admin", {"from": "active", "to": "left"})


@pytest.mark.parametrize(
    "body", [{"status": "gone"}, {"status": "ACTIVE"}, {}, {"status": "left", "x": 1}, []]
)
def test_status_rejects_bad_input(
    client: TestClient, admin_auth: dict, seeded: datetime, body: object
) -> None:
    response = client.put(f"{ADMIN_BY_WA}/{BUDI.wa_id}/status", json=body, headers=admin_auth)
    assert response.status_code == 422


def test_status_of_unknown_partner_is_404(client: TestClient, admin_auth: dict) -> None:
    response = client.put(
        f"{ADMIN_BY_WA}/{STRANGER_WA_ID}/status", json={"status": "left"}, headers=admin_auth
    )
    assert response.status_code == 404
