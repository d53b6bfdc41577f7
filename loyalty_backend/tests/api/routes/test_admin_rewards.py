"""Admin reward routes, the partner list, adjustments, the payout callback, the ERP feed."""

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import settings
from app.demo_fixtures import ANDI, BUDI, FIXTURES, RINA
from app.models import AuditLog, LedgerEntry
from app.services import tiers
from tests.utils import assert_ledger_consistent

ADMIN = "/api/v1/admin"
BY_WA = "/api/v1/partners/by-wa"


def reward_body(**overrides: object) -> dict:
    body = {
        "code": "PAYUNG-MITRA",
        "kind": "merchandise",
        "name": {"id": "Payung Mitra", "en": "Mitra umbrella"},
        "description": {"id": "Payung besar untuk toko.", "en": "A big umbrella for the shop."},
        "cost": 800,
        "stock": 20,
        "eligible": {"tiers": [], "roles": ["retailer"], "regions": []},
        "limit": {"count": 1, "period": "month"},
        "window": {"from": "2026-01-01", "to": "2099-12-31"},
        "image_url": "https://example.com/payung.jpg",
        "synonyms": ["payung", "umbrella"],
        "active": True,
    }
    body.update(overrides)
    return body


def _redeem(client: TestClient, auth: dict, wa_id: str, code: str, key: str) -> dict:
    response = client.post(
        f"{BY_WA}/{wa_id}/redemptions",
        json={"reward_code": code, "idempotency_key": key},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    return response.json()


# --- rewards --------------------------------------------------------------------------------


def test_create_then_update_a_reward(
    client: TestClient, admin_auth: dict, auth: dict, session: Session, seeded: datetime
) -> None:
    created = client.post(f"{ADMIN}/rewards", json=reward_body(), headers=admin_auth)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["code"], body["source"], body["stock"], body["stock_left"]) == (
        "PAYUNG-MITRA",
        "admin",
        20,
        20,
    )
    assert body["window"] == {"from": "2026-01-01", "to": "2099-12-31"}
    assert body["limit"] == {"count": 1, "period": "month"}
    updated = client.post(
        f"{ADMIN}/rewards", json=reward_body(cost=900, stock=None, limit=None), headers=admin_auth
    )
    assert updated.status_code == 200
    assert (updated.json()["cost"], updated.json()["stock"], updated.json()["limit"]) == (
        900,
        None,
        None,
    )
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.entity_id == "PAYUNG-MITRA").order_by(AuditLog.id)
    ).all()
    assert actions == ["reward.create", "reward.update"]
    # Partners see it at once (Budi is a retailer).
    seen = client.get(f"{BY_WA}/{BUDI.wa_id}/rewards", params={"q": "payung"}, headers=auth)
    assert [i["code"] for i in seen.json()["items"]] == ["PAYUNG-MITRA"]
    listed = client.get(f"{ADMIN}/rewards", headers=admin_auth).json()["items"]
    by_code = {r["code"]: r for r in listed}
    assert by_code["VCR-50K"]["stock_left"] == 200 and by_code["VCR-50K"]["stock"] is None
    assert by_code["PAYUNG-MITRA"]["stock_left"] is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "voucher", "stock": 5},
        {"cost": 0},
        {"cost": "800"},
        {"eligible": {"tiers": ["diamond"]}},
        {"limit": {"count": 0, "period": "month"}},
        {"window": {"from": "2026-12-31", "to": "2026-01-01"}},
        {"image_url": "javascript:alert(1)"},
        {"code": "bad code"},
        {"colour": "red"},
    ],
)
def test_bad_rewards_are_422(
    client: TestClient, admin_auth: dict, seeded: datetime, overrides: dict
) -> None:
    response = client.post(f"{ADMIN}/rewards", json=reward_body(**overrides), headers=admin_auth)
    assert response.status_code == 422, (overrides, response.text)


def test_voucher_import_route(client: TestClient, admin_auth: dict, seeded: datetime) -> None:
    url = f"{ADMIN}/rewards/VCR-100K/vouchers"
    expires = (datetime.now().date() + timedelta(days=60)).isoformat()
    response = client.post(
        url,
        json={"codes": ["NEW-0001", "NEW-0002", "NEW-0001", "x", ""], "expires_at": expires},
        headers=admin_auth,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["added"], body["duplicates"]) == (2, 1)
    assert [r["index"] for r in body["rejected"]] == [3, 4]
    stock = {
        r["code"]: r for r in client.get(f"{ADMIN}/rewards", headers=admin_auth).json()["items"]
    }
    assert stock["VCR-100K"]["stock_left"] == 102
    not_voucher = client.post(
        f"{ADMIN}/rewards/KAOS-MITRA/vouchers",
        json={"codes": ["NEW-0003"], "expires_at": expires},
        headers=admin_auth,
    )
    assert not_voucher.status_code == 422
    past = client.post(
        url, json={"codes": ["NEW-0004"], "expires_at": "2001-01-01"}, headers=admin_auth
    )
    assert past.status_code == 422
    unknown = client.post(
        f"{ADMIN}/rewards/NOPE/vouchers",
        json={"codes": ["NEW-0005"], "expires_at": expires},
        headers=admin_auth,
    )
    assert unknown.status_code == 404
    empty = client.post(url, json={"codes": [], "expires_at": expires}, headers=admin_auth)
    assert empty.status_code == 422


# --- fulfilment ---------------------------------------------------------------------------------


def test_fulfilment_queue_ship_deliver_and_cancel(
    client: TestClient, admin_auth: dict, auth: dict, session: Session, seeded: datetime
) -> None:
    kaos = _redeem(client, auth, BUDI.wa_id, "KAOS-MITRA", "wa:k1")["redemption_no"]
    voucher = _redeem(client, auth, BUDI.wa_id, "VCR-50K", "wa:v1")["redemption_no"]
    queue = client.get(f"{ADMIN}/redemptions", params={"status": "requested"}, headers=admin_auth)
    assert queue.status_code == 200
    body = queue.json()
    assert [i["redemption_no"] for i in body["items"]] == [kaos] and body["total"] == 1
    assert body["items"][0]["partner"] == {
        "wa_id": BUDI.wa_id,
        "name": BUDI.name,
        "shop_name": BUDI.shop_name,
    }
    assert client.get(f"{ADMIN}/redemptions", headers=admin_auth).json()["total"] == 2
    assert (
        client.get(f"{ADMIN}/redemptions", params={"status": "x"}, headers=admin_auth).status_code
        == 422
    )

    url = f"{ADMIN}/redemptions/{kaos}"
    no_tracking = client.patch(url, json={"status": "shipped"}, headers=admin_auth)
    assert no_tracking.status_code == 422
    shipped = client.patch(
        url,
        json={"status": "shipped", "courier": "JNE", "tracking_no": "JNE0012345"},
        headers=admin_auth,
    )
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    partner_view = client.get(f"{BY_WA}/{BUDI.wa_id}/redemptions/{kaos}", headers=auth).json()
    assert (partner_view["courier"], partner_view["tracking_no"]) == ("JNE", "JNE0012345")
    assert partner_view["status_label"]["en"] == "Shipped"
    delivered = client.patch(url, json={"status": "delivered"}, headers=admin_auth)
    assert delivered.json()["status"] == "delivered"
    late = client.patch(url, json={"status": "cancelled"}, headers=admin_auth)
    assert late.status_code == 409 and late.json()["code"] == "invalid_transition"

    cancelled = client.patch(
        f"{ADMIN}/redemptions/{voucher}",
        json={"status": "cancelled", "note": "the code was rejected at the shop"},
        headers=admin_auth,
    )
    assert cancelled.status_code == 200
    assert (cancelled.json()["refunded_points"], cancelled.json()["note"]) == (
        1000,
        "the code was rejected at the shop",
    )
    balance = client.get(f"{BY_WA}/{BUDI.wa_id}/balance", headers=auth).json()
    assert balance["available_points"] == 7500 - 1500
    assert client.get(f"{ADMIN}/redemptions/{voucher}", headers=admin_auth).json()["status"] == (
        "cancelled"
    )
    assert (
        client.patch(f"{ADMIN}/redemptions/RDM-999999", json={}, headers=admin_auth).status_code
        == 404
    )


# --- partners and adjustments -------------------------------------------------------------------


def test_the_partner_list(client: TestClient, admin_auth: dict, seeded: datetime) -> None:
    response = client.get(f"{ADMIN}/partners", params={"limit": 200}, headers=admin_auth)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == len(body["items"]) >= 50
    by_wa = {item["wa_id"]: item for item in body["items"]}
    for fixture in FIXTURES:
        item = by_wa[fixture.wa_id]
        assert (item["tier"], item["balance"], item["name"]) == (
            fixture.tier,
            fixture.available_points,
            fixture.name,
        )
    assert by_wa[ANDI.wa_id]["erp_customer_code"] == "CUST-0003"
    assert set(by_wa[RINA.wa_id]) == {
        "wa_id",
        "name",
        "shop_name",
        "role",
        "region",
        "tier",
        "status",
        "balance",
        "erp_customer_code",
    }
    page = client.get(f"{ADMIN}/partners", params={"limit": 2, "offset": 1}, headers=admin_auth)
    assert [i["wa_id"] for i in page.json()["items"]] == [i["wa_id"] for i in body["items"][1:3]]


def test_adjustments_both_ways(
    client: TestClient, admin_auth: dict, session: Session, seeded: datetime
) -> None:
    url = f"{ADMIN}/partners/by-wa/{RINA.wa_id}/adjustments"
    body = {"points": 300, "note": "goodwill after a late delivery", "idempotency_key": "adj-1"}
    added = client.post(url, json=body, headers=admin_auth)
    assert added.status_code == 201, added.text
    entry = added.json()
    assert (entry["delta"], entry["reason"], entry["balance_after"]) == (300, "adjustment", 300)
    assert entry["description"] == "goodwill after a late delivery"
    replay = client.post(url, json=body, headers=admin_auth)
    assert replay.status_code == 200 and replay.json()["id"] == entry["id"]
    too_much = client.post(
        url, json={"points": -301, "note": "typo", "idempotency_key": "adj-2"}, headers=admin_auth
    )
    assert too_much.status_code == 409 and too_much.json() == {"detail": "insufficient points"}
    taken = client.post(
        url,
        json={"points": -100, "note": "duplicate claim", "idempotency_key": "adj-3"},
        headers=admin_auth,
    )
    assert taken.status_code == 201 and taken.json()["delta"] == -100
    for bad in (
        {"points": 0, "note": "x", "idempotency_key": "adj-4"},
        {"points": 10, "note": "", "idempotency_key": "adj-5"},
        {"points": 10, "note": "   ", "idempotency_key": "adj-5"},
        {"points": 10, "note": "x", "idempotency_key": "refund:RDM-1"},
        {"points": 10.5, "note": "x", "idempotency_key": "adj-6"},
    ):
        assert client.post(url, json=bad, headers=admin_auth).status_code == 422, bad
    audit = session.scalars(
        select(AuditLog).where(AuditLog.action == "points.spend").order_by(AuditLog.id.desc())
    ).first()
    assert audit.details["description"] == "duplicate claim" and audit.actor == "admin"
    rina = session.scalars(
        select(LedgerEntry.partner_id).where(LedgerEntry.id == entry["id"])
    ).one()
    assert assert_ledger_consistent(session, rina) == 200
    assert tiers.current_tier(session, rina).code == "silver"  # adjustments never move a tier


# --- the payout callback ------------------------------------------------------------------------


def test_the_fake_provider_callback(
    client: TestClient,
    auth: dict,
    payouts_auth: dict,
    seeded: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "PAYOUT_FAKE_MODE", "async")
    pulsa = _redeem(client, auth, BUDI.wa_id, "PULSA-25K", "wa:p1")
    assert pulsa["status"] == "requested"
    url = "/api/v1/integrations/payouts/fake/callback"
    ref = f"FAKE-{pulsa['redemption_no']}"
    done = client.post(url, json={"payout_ref": ref, "status": "succeeded"}, headers=payouts_auth)
    assert done.status_code == 200, done.text
    assert done.json() == {
        "redemption_no": pulsa["redemption_no"],
        "status": "fulfilled",
        "changed": True,
    }
    again = client.post(url, json={"payout_ref": ref, "status": "succeeded"}, headers=payouts_auth)
    assert again.status_code == 200 and again.json()["changed"] is False
    contradiction = client.post(
        url, json={"payout_ref": ref, "status": "failed"}, headers=payouts_auth
    )
    assert contradiction.status_code == 409

    second = _redeem(client, auth, BUDI.wa_id, "PULSA-25K", "wa:p2")
    failed = client.post(
        url,
        json={
            "payout_ref": f"FAKE-{second['redemption_no']}",
            "status": "failed",
            "reason": "bad number",
        },
        headers=payouts_auth,
    )
    assert failed.json()["status"] == "cancelled"
    mine = client.get(f"{BY_WA}/{BUDI.wa_id}/redemptions/{second['redemption_no']}", headers=auth)
    assert (mine.json()["refunded_points"], mine.json()["note"]) == (
        500,
        "Payout failed: bad number",
    )
    unknown = client.post(
        url, json={"payout_ref": "FAKE-X", "status": "failed"}, headers=payouts_auth
    )
    assert unknown.status_code == 404
    assert (
        client.post(
            url, json={"payout_ref": ref, "status": "maybe"}, headers=payouts_auth
        ).status_code
        == 422
    )
    monkeypatch.setattr(settings, "PAYOUT_PROVIDER", "acme")
    off = client.post(url, json={"payout_ref": ref, "status": "succeeded"}, headers=payouts_auth)
    assert off.status_code == 404


# --- the ERP's redemption feed --------------------------------------------------------------------


def test_the_erp_redemption_feed(
    client: TestClient, auth: dict, erp_auth: dict, admin_auth: dict, seeded: datetime
) -> None:
    url = "/api/v1/integrations/erp/redemptions"
    assert client.get(url, headers=erp_auth).json() == {"items": [], "next_since": None}
    first = _redeem(client, auth, BUDI.wa_id, "VCR-50K", "wa:e1")
    _redeem(client, auth, ANDI.wa_id, "KAOS-MITRA", "wa:e2")
    feed = client.get(url, headers=erp_auth).json()
    assert [(i["wa_id"], i["reward_code"], i["erp_customer_code"]) for i in feed["items"]] == [
        (BUDI.wa_id, "VCR-50K", "CUST-0001"),
        (ANDI.wa_id, "KAOS-MITRA", "CUST-0003"),
    ]
    since = feed["next_since"]
    client.patch(
        f"{ADMIN}/redemptions/{first['redemption_no']}",
        json={"status": "cancelled"},
        headers=admin_auth,
    )
    later = client.get(url, params={"since": since}, headers=erp_auth).json()["items"]
    assert [(i["redemption_no"], i["status"]) for i in later][-1] == (
        first["redemption_no"],
        "cancelled",
    )
    assert (
        client.get(url, params={"since": "2026-01-01T00:00:00"}, headers=erp_auth).status_code
        == 422
    )
    assert client.get(url, params={"limit": 1}, headers=admin_auth).status_code == 200
