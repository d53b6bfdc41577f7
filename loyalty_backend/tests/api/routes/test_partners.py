from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo_fixtures import ANDI, BUDI, FIXTURES, SARAH, STRANGER_WA_ID, DemoFixture
from app.models import AuditLog

BY_WA = "/api/v1/partners/by-wa"

# Every endpoint of the service API, as (method, path template, json body).
ENDPOINTS = [
    ("GET", BY_WA + "/{wa}", None),
    ("GET", BY_WA + "/{wa}/balance", None),
    ("GET", BY_WA + "/{wa}/tier", None),
    ("GET", BY_WA + "/{wa}/history", None),
    ("GET", BY_WA + "/{wa}/expiring", None),
    ("PUT", BY_WA + "/{wa}/language", {"language": "en"}),
    ("GET", "/api/v1/tiers", None),
    (
        "POST",
        BY_WA + "/{wa}/points/earn",
        {
            "points": 10,
            "reason": "quiz",
            "reference_type": "quiz_attempt",
            "reference_id": "q1",
            "idempotency_key": "auth-test-earn",
        },
    ),
    (
        "POST",
        BY_WA + "/{wa}/points/spend",
        {
            "points": 10,
            "reason": "redemption",
            "reference_type": "redemption",
            "reference_id": "r1",
            "idempotency_key": "auth-test-spend",
        },
    ),
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "demo-service-token"},
        {"Authorization": "Basic ZGVtbzpkZW1v"},
        {"Authorization": "Bearer "},
    ],
    ids=["missing", "wrong", "no-scheme", "basic", "empty"],
)
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_every_endpoint_needs_the_service_token(
    client: TestClient, method: str, path: str, body: dict | None, headers: dict
) -> None:
    response = client.request(method, path.format(wa=BUDI.wa_id), json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]


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
    }


def test_parent_wa_id(client: TestClient, auth: dict, seeded: datetime) -> None:
    budi = client.get(f"{BY_WA}/{BUDI.wa_id}", headers=auth).json()
    assert budi["parent_wa_id"] == "6281300000001"
    andi = client.get(f"{BY_WA}/{ANDI.wa_id}", headers=auth).json()
    assert andi["parent_wa_id"] is None


@pytest.mark.parametrize("wa_id", [STRANGER_WA_ID, "6281299999999", "ID.unknown"])
def test_unknown_partner_is_404(client: TestClient, auth: dict, seeded: datetime, wa_id: str):
    for _, path, body in ENDPOINTS:
        if "{wa}" not in path:
            continue
        method = "GET" if body is None else ("PUT" if path.endswith("language") else "POST")
        response = client.request(method, path.format(wa=wa_id), json=body, headers=auth)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "partner not found"}


@pytest.mark.parametrize(
    "wa_id",
    ["a" * 161, "abc$def", "628 1200", "%00", "628120000000%C3%A9", "x;drop", "a+b", "*"],
)
def test_malformed_wa_id_is_422(client: TestClient, auth: dict, wa_id: str) -> None:
    response = client.get(f"{BY_WA}/{wa_id}/balance", headers=auth)
    assert response.status_code == 422
    assert "wa_id" in str(response.json()["detail"])


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
