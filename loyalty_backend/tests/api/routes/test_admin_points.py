"""Admin adjustments: POST /api/v1/admin/partners/by-wa/{wa_id}/points/{earn,spend}."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditLog
from app.services.ledger import RESERVED_KEY_PREFIXES
from tests.utils import assert_ledger_consistent, new_partner

BY_WA = "/api/v1/partners/by-wa"
ADMIN_BY_WA = "/api/v1/admin/partners/by-wa"


def earn_body(**overrides: object) -> dict:
    body = {
        "points": 500,
        "reason": "claim",
        "reference_type": "claim",
        "reference_id": "CLM-1",
        "idempotency_key": "adjust:CLM-1",
        "description": "Sales claim INV-1",
    }
    body.update(overrides)
    return body


def spend_body(**overrides: object) -> dict:
    body = {
        "points": 200,
        "reason": "redemption",
        "reference_type": "redemption",
        "reference_id": "RDM-1",
        "idempotency_key": "adjust:RDM-1",
        "description": "Voucher 25k",
    }
    body.update(overrides)
    return body


def test_earn_then_replay(
    client: TestClient, auth: dict, admin_auth: dict, session: Session
) -> None:
    partner = new_partner(session)
    url = f"{ADMIN_BY_WA}/{partner.wa_id}/points/earn"
    first = client.post(url, json=earn_body(), headers=admin_auth)
    assert first.status_code == 201
    entry = first.json()
    assert entry["delta"] == 500 and entry["balance_after"] == 500
    assert entry["reason"] == "claim" and entry["description"] == "Sales claim INV-1"
    assert entry["created_at"].endswith("+00:00")
    again = client.post(url, json=earn_body(), headers=admin_auth)
    assert again.status_code == 200
    assert again.json() == entry
    balance = client.get(f"{BY_WA}/{partner.wa_id}/balance", headers=auth).json()
    assert balance["available_points"] == 500 == balance["lifetime_earned"]
    assert assert_ledger_consistent(session, partner.id) == 500
    # The audit names the caller.
    actors = session.scalars(select(AuditLog.actor).where(AuditLog.action == "points.earn")).all()
    assert actors == ["admin"]


def test_the_bot_cannot_mint_or_spend(
    client: TestClient, auth: dict, erp_auth: dict, session: Session
) -> None:
    partner = new_partner(session)
    for path, body in (("earn", earn_body()), ("spend", spend_body())):
        for headers in (auth, erp_auth):
            response = client.post(
                f"{ADMIN_BY_WA}/{partner.wa_id}/points/{path}", json=body, headers=headers
            )
            assert response.status_code == 403
            assert "lacks scope points:adjust" in response.json()["detail"]
        # The old service routes are gone, for everyone.
        old = client.post(f"{BY_WA}/{partner.wa_id}/points/{path}", json=body, headers=auth)
        assert old.status_code in (404, 405)
    assert assert_ledger_consistent(session, partner.id) == 0


def test_spend_insufficient_and_replay(
    client: TestClient, admin_auth: dict, session: Session
) -> None:
    partner = new_partner(session)
    base = f"{ADMIN_BY_WA}/{partner.wa_id}/points"
    client.post(f"{base}/earn", json=earn_body(points=300), headers=admin_auth)
    too_much = client.post(f"{base}/spend", json=spend_body(points=301), headers=admin_auth)
    assert too_much.status_code == 409
    assert too_much.json() == {"detail": "insufficient points"}
    spent = client.post(f"{base}/spend", json=spend_body(points=300), headers=admin_auth)
    assert spent.status_code == 201
    assert spent.json()["delta"] == -300 and spent.json()["balance_after"] == 0
    replay = client.post(f"{base}/spend", json=spend_body(points=300), headers=admin_auth)
    assert replay.status_code == 200 and replay.json() == spent.json()
    assert assert_ledger_consistent(session, partner.id) == 0


def test_key_reused_for_another_request_is_409(
    client: TestClient, admin_auth: dict, session: Session
) -> None:
    partner = new_partner(session)
    base = f"{ADMIN_BY_WA}/{partner.wa_id}/points"
    assert client.post(f"{base}/earn", json=earn_body(), headers=admin_auth).status_code == 201
    other = client.post(f"{base}/earn", json=earn_body(points=501), headers=admin_auth)
    assert other.status_code == 409
    assert "idempotency key" in other.json()["detail"]
    # Same key from another partner must not reveal the first partner's entry.
    stranger = new_partner(session)
    response = client.post(
        f"{ADMIN_BY_WA}/{stranger.wa_id}/points/earn", json=earn_body(), headers=admin_auth
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    "key",
    [f"{prefix}x" for prefix in RESERVED_KEY_PREFIXES]
    + ["expiry:lot:1", "EXPIRY:lot:1", "Seed:6281200000001:0", "system:"],
)
@pytest.mark.parametrize("path", ["earn", "spend"])
def test_reserved_key_prefixes_are_422(
    client: TestClient, admin_auth: dict, session: Session, key: str, path: str
) -> None:
    partner = new_partner(session)
    body = (earn_body if path == "earn" else spend_body)(idempotency_key=key)
    response = client.post(
        f"{ADMIN_BY_WA}/{partner.wa_id}/points/{path}", json=body, headers=admin_auth
    )
    assert response.status_code == 422, response.text
    assert "reserved for the backend" in str(response.json()["detail"])
    assert assert_ledger_consistent(session, partner.id) == 0


def test_keys_that_merely_contain_a_prefix_are_fine(
    client: TestClient, admin_auth: dict, session: Session
) -> None:
    partner = new_partner(session)
    body = earn_body(idempotency_key="adjust:expiry:lot:1")
    response = client.post(
        f"{ADMIN_BY_WA}/{partner.wa_id}/points/earn", json=body, headers=admin_auth
    )
    assert response.status_code == 201


def test_unknown_partner_is_404(client: TestClient, admin_auth: dict) -> None:
    for path, body in (("earn", earn_body()), ("spend", spend_body())):
        response = client.post(
            f"{ADMIN_BY_WA}/6289900000000/points/{path}", json=body, headers=admin_auth
        )
        assert response.status_code == 404
        assert response.json() == {"detail": "partner not found"}


BAD_EARN = [
    {"points": 0},
    {"points": -5},
    {"points": "100"},
    {"points": 10.5},
    {"points": True},
    {"points": 1_000_001},
    {"points": 10**30},
    {"points": None},
    {"reason": "expiry"},
    {"reason": "redemption"},
    {"reason": "CLAIM"},
    {"reference_type": ""},
    {"reference_id": "x" * 65},
    {"idempotency_key": ""},
    {"idempotency_key": "has space"},
    {"idempotency_key": "k" * 129},
    {"idempotency_key": "null\u0000byte"},
    {"description": "bad\u0000byte"},
    {"description": "d" * 201},
    {"expires_in_days": 0},
    {"expires_in_days": 100000},
    {"unexpected": "field"},
]


@pytest.mark.parametrize("overrides", BAD_EARN, ids=[str(b) for b in BAD_EARN])
def test_earn_rejects_bad_body(
    client: TestClient, admin_auth: dict, session: Session, overrides: dict
) -> None:
    partner = new_partner(session)
    response = client.post(
        f"{ADMIN_BY_WA}/{partner.wa_id}/points/earn",
        json=earn_body(**overrides),
        headers=admin_auth,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert assert_ledger_consistent(session, partner.id) == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"points": 0},
        {"reason": "claim"},
        {"reason": "expiry"},
        {"expires_in_days": 5},
        {"idempotency_key": None},
    ],
)
def test_spend_rejects_bad_body(
    client: TestClient, admin_auth: dict, session: Session, overrides: dict
) -> None:
    partner = new_partner(session)
    response = client.post(
        f"{ADMIN_BY_WA}/{partner.wa_id}/points/spend",
        json=spend_body(**overrides),
        headers=admin_auth,
    )
    assert response.status_code == 422


def test_missing_fields_are_422(client: TestClient, admin_auth: dict, session: Session) -> None:
    partner = new_partner(session)
    for path in ("earn", "spend"):
        response = client.post(
            f"{ADMIN_BY_WA}/{partner.wa_id}/points/{path}", json={}, headers=admin_auth
        )
        assert response.status_code == 422
        missing = {e["loc"][-1] for e in response.json()["detail"]}
        assert {"points", "reason", "idempotency_key"} <= missing
