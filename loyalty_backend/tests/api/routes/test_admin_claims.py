"""Claim review: GET /admin/claims, the photo, POST /admin/claims/{claim_no}/decision."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditLog, Claim, ClaimLine
from app.services import claim_images, claims
from tests.claims_utils import erp_invoice, load_catalogue, partner_with_code, photo, submit

ADMIN = "/api/v1/admin/claims"


@pytest.fixture(autouse=True)
def catalogue(session: Session) -> None:
    load_catalogue(session)


def test_the_review_queue_shows_signals_photo_and_erp_match(
    client: TestClient, admin_auth: dict, session: Session
) -> None:
    partner = partner_with_code(session)
    data = photo(21)
    image = claim_images.store_image(session, data, "image/png")
    pending = submit(session, partner, "INV/ADM/0001", {"KSGA-24": 4}, image_id=image.id).claim
    erp_invoice(session, "INV/ADM/0002", partner.erp_customer_code, {"KHT-24": 1})
    approved = submit(session, partner, "INV/ADM/0002", {"KHT-24": 1}).claim

    queue = client.get(f"{ADMIN}?status=pending_review", headers=admin_auth)
    assert queue.status_code == 200
    page = queue.json()
    assert page["total"] == 1 and page["limit"] == 50 and page["offset"] == 0
    [item] = page["items"]
    assert item["claim_no"] == pending.claim_no and item["status"] == "pending_review"
    assert item["partner"]["wa_id"] == partner.wa_id
    assert item["partner"]["erp_customer_code"] == partner.erp_customer_code
    assert item["image_url"] == f"/api/v1/admin/claims/{pending.claim_no}/image"
    assert item["lines"] == [
        {
            "sku": "KSGA-24",
            "name": "Kopi Susu Gula Aren 24 x 200 ml",
            "quantity": 4,
            "unit": "karton",
            "erp_quantity": None,
            "match": "no_erp_data",
        }
    ]
    everything = client.get(ADMIN, headers=admin_auth).json()
    assert [c["claim_no"] for c in everything["items"]] == [approved.claim_no, pending.claim_no]
    assert client.get(f"{ADMIN}?status=nope", headers=admin_auth).status_code == 422

    # The ERP match is as of now: the line arrives with another quantity.
    erp_invoice(session, "INV/ADM/0001", partner.erp_customer_code, {"KSGA-24": 3})
    one = client.get(f"{ADMIN}/{pending.claim_no}", headers=admin_auth).json()
    assert (one["lines"][0]["erp_quantity"], one["lines"][0]["match"]) == (3, "quantity_above")

    picture = client.get(one["image_url"], headers=admin_auth)
    assert picture.status_code == 200 and picture.content == data
    assert picture.headers["content-type"] == "image/png"
    no_photo = client.get(f"{ADMIN}/{approved.claim_no}/image", headers=admin_auth)
    assert no_photo.status_code == 404
    assert client.get(f"{ADMIN}/KLM-999999/image", headers=admin_auth).status_code == 404


def test_signals_are_shown_to_reviewers(
    client: TestClient, admin_auth: dict, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.config import settings

    monkeypatch.setattr(settings, "CLAIM_QUANTITY_REVIEW_LIMIT", 10)
    partner = partner_with_code(session)
    erp_invoice(session, "INV/ADM/0010", partner.erp_customer_code, {"KSGA-24": 20})
    claim = submit(session, partner, "INV/ADM/0010", {"KSGA-24": 20}).claim
    [item] = client.get(f"{ADMIN}?status=pending_review", headers=admin_auth).json()["items"]
    assert item["claim_no"] == claim.claim_no
    [signal] = item["signals"]
    assert signal["code"] == "unusual_quantity" and signal["severity"] == "review"
    assert set(signal["description"]) == {"id", "en"}
    assert signal["details"]["limit"] == 10
    assert item["reasons"][0]["code"] == "manual_review"
    assert item["lines"][0]["match"] == "matched"


def test_approve_credits_once_and_a_second_decision_is_409(
    client: TestClient, admin_auth: dict, auth: dict, session: Session
) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/ADM/0020", {"KSGA-24": 2}).claim
    url = f"{ADMIN}/{claim.claim_no}/decision"
    decided = client.post(url, json={"decision": "approve", "reason": "ok"}, headers=admin_auth)
    assert decided.status_code == 200, decided.text
    result = decided.json()
    assert result["status"] == "approved" and result["points"] > 0
    assert result["decided_by"] == "admin" and result["decision_reason"] == "ok"
    again = client.post(url, json={"decision": "approve", "reason": "ok"}, headers=admin_auth)
    assert again.status_code == 409
    assert again.json() == {"detail": f"claim {claim.claim_no} is already approved"}
    balance = client.get(f"/api/v1/partners/by-wa/{partner.wa_id}/balance", headers=auth).json()
    assert balance["available_points"] == result["points"]
    session.commit()
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "claim.approve")).one()
    assert audit.actor == "admin" and audit.details["reason"] == "ok"
    # The partner sees it approved, with the rules.
    mine = client.get(f"/api/v1/partners/by-wa/{partner.wa_id}/claims", headers=auth).json()
    assert mine["items"][0]["status"] == "approved" and mine["items"][0]["rules"]


def test_reject_needs_a_reason_and_the_partner_reads_it(
    client: TestClient, admin_auth: dict, auth: dict, session: Session
) -> None:
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/ADM/0030", {"KSGA-24": 2}).claim
    url = f"{ADMIN}/{claim.claim_no}/decision"
    assert client.post(url, json={"decision": "reject"}, headers=admin_auth).status_code == 422
    assert (
        client.post(url, json={"decision": "maybe", "reason": "x"}, headers=admin_auth).status_code
        == 422
    )
    rejected = client.post(
        url, json={"decision": "reject", "reason": "foto buram"}, headers=admin_auth
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    mine = client.get(f"/api/v1/partners/by-wa/{partner.wa_id}/claims", headers=auth).json()
    [reason] = mine["items"][0]["reasons"]
    assert reason["code"] == "rejected_by_reviewer" and "foto buram" in reason["description"]["id"]
    assert (
        client.post(
            f"{ADMIN}/KLM-999999/decision", json={"decision": "approve"}, headers=admin_auth
        ).status_code
        == 404
    )


def test_startup_judges_claims_left_submitted(db, session: Session) -> None:
    """A claim stored but never judged (the process died) is judged when the backend starts."""
    from app.api.deps import get_db
    from app.core.db import make_session_factory
    from app.main import app

    partner = partner_with_code(session)
    erp_invoice(session, "INV/ADM/0040", partner.erp_customer_code, {"TML-48": 1})
    session.commit()
    with session.begin():
        claim = Claim(
            partner_id=partner.id,
            kind="sales",
            status="submitted",
            invoice_no="INV/ADM/0040",
            invoice_no_normalised="INV/ADM/0040",
            idempotency_key="wa:left",
            points=0,
            rules=[],
            reasons=[],
            signals=[],
        )
        session.add(claim)
        session.flush()
        claim.claim_no = claims.claim_no_for(claim.id)
        session.add(ClaimLine(claim=claim, sku="TML-48", quantity=1))
    factory = make_session_factory(db.engine)

    def _get_db():
        with factory() as s:
            yield s

    app.dependency_overrides[get_db] = _get_db
    try:
        with TestClient(app):
            pass
    finally:
        app.dependency_overrides.pop(get_db, None)
    session.expire_all()
    assert claims.get_claim(session, claim.claim_no).status == "approved"
