"""Fraud signals: recorded on the claim; refusals reject, the rest go to a person."""

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.config import settings
from app.services import claim_images, claims, fraud
from app.services.errors import DuplicateClaim
from tests.claims_utils import (
    erp_invoice,
    load_catalogue,
    partner_with_code,
    photo,
    reencoded,
    submit,
)


@pytest.fixture(autouse=True)
def catalogue(session: Session) -> None:
    load_catalogue(session)


def _codes(claim) -> list[str]:
    return [s["code"] for s in claim.signals]


def test_the_same_photo_is_refused_until_its_claim_is_rejected(session: Session) -> None:
    budi, sarah = partner_with_code(session), partner_with_code(session)
    image = claim_images.store_image(session, photo(11), "image/png")
    first = submit(session, budi, "INV/F/0001", {"KSGA-24": 1}, image_id=image.id).claim
    with pytest.raises(DuplicateClaim) as own:
        submit(session, budi, "INV/F/0002", {"KSGA-24": 1}, image_id=image.id)
    assert own.value.code == "duplicate_photo" and own.value.claim_no == first.claim_no
    with pytest.raises(DuplicateClaim) as other:
        submit(session, sarah, "INV/F/0003", {"KSGA-24": 1}, image_id=image.id)
    assert other.value.code == "duplicate_photo" and other.value.claim_no is None
    # Rejected, the photo may be sent again with a corrected claim.
    claims.decide(session, first.claim_no, "reject", "wrong quantity", "admin")
    again = submit(session, budi, "INV/F/0001", {"KSGA-24": 1}, image_id=image.id)
    assert again.created


def test_a_near_duplicate_photo_goes_to_review_never_refused(session: Session) -> None:
    budi, sarah = partner_with_code(session), partner_with_code(session)
    original = claim_images.store_image(session, photo(12), "image/png")
    forwarded = claim_images.store_image(session, reencoded(photo(12)), "image/jpeg")
    first = submit(session, budi, "INV/F/0010", {"KSGA-24": 1}, image_id=original.id).claim
    erp_invoice(session, "INV/F/0011", sarah.erp_customer_code, {"KSGA-24": 1})
    claim = submit(session, sarah, "INV/F/0011", {"KSGA-24": 1}, image_id=forwarded.id).claim
    assert claim.status == "pending_review"  # the ERP matches: only the photo holds it
    assert _codes(claim) == ["near_duplicate_photo"]
    signal = claim.signals[0]
    assert signal["severity"] == "review"
    assert signal["details"]["matches"][0]["claim_no"] == first.claim_no
    assert [r["code"] for r in claim.reasons] == ["manual_review"]
    # A different picture raises nothing.
    erp_invoice(session, "INV/F/0012", sarah.erp_customer_code, {"KSGA-24": 1})
    other = claim_images.store_image(session, photo(13), "image/png")
    fine = submit(session, sarah, "INV/F/0012", {"KSGA-24": 1}, image_id=other.id).claim
    assert fine.status == "approved" and fine.signals == []


def test_velocity(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "CLAIM_VELOCITY_PER_HOUR", 2)
    monkeypatch.setattr(settings, "CLAIM_VELOCITY_PER_DAY", 3)
    partner = partner_with_code(session)
    now = utcnow()
    results = []
    for n, minutes_ago in enumerate((300, 200, 50, 20, 10)):
        erp_invoice(session, f"INV/F/01{n}", partner.erp_customer_code, {"TML-48": 1})
        at = now - timedelta(minutes=minutes_ago)
        results.append(submit(session, partner, f"INV/F/01{n}", {"TML-48": 1}, now=at).claim)
    assert [c.status for c in results[:3]] == ["approved"] * 3
    # Fourth within a day (limit 3), fifth also three within the hour (limit 2).
    assert [c.status for c in results[3:]] == ["pending_review"] * 2
    assert _codes(results[3]) == ["velocity"] and results[3].signals[0]["details"]["claims"] == 4
    assert "satu hari" in results[3].signals[0]["description"]["id"]
    assert "one hour" in results[4].signals[0]["description"]["en"]


def test_quantity_far_above_the_partners_history(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "CLAIM_VELOCITY_PER_HOUR", 100)
    partner = partner_with_code(session)
    for n, quantity in enumerate((2, 3, 2)):
        erp_invoice(session, f"INV/F/02{n}", partner.erp_customer_code, {"KHT-24": quantity})
        assert submit(session, partner, f"INV/F/02{n}", {"KHT-24": quantity}).claim.signals == []
    erp_invoice(session, "INV/F/0230", partner.erp_customer_code, {"KHT-24": 11, "TML-48": 40})
    claim = submit(session, partner, "INV/F/0230", {"KHT-24": 11, "TML-48": 40}).claim
    assert claim.status == "pending_review"  # 11 > 5 x median 2; TML-48 has no history
    [signal] = claim.signals
    assert signal["code"] == "unusual_quantity" and signal["details"]["sku"] == "KHT-24"
    assert signal["details"]["median"] == 2
    # Up to five times the median passes.
    erp_invoice(session, "INV/F/0231", partner.erp_customer_code, {"KHT-24": 10})
    assert submit(session, partner, "INV/F/0231", {"KHT-24": 10}).claim.status == "approved"

    monkeypatch.setattr(settings, "CLAIM_QUANTITY_REVIEW_LIMIT", 30)
    erp_invoice(session, "INV/F/0232", partner.erp_customer_code, {"TML-48": 31})
    capped = submit(session, partner, "INV/F/0232", {"TML-48": 31}).claim
    assert _codes(capped) == ["unusual_quantity"] and capped.signals[0]["details"]["limit"] == 30


def test_signals_are_the_same_when_judged_again_later(session: Session) -> None:
    """Velocity and history count only claims before this one: re-judging is stable."""
    partner = partner_with_code(session)
    claim = submit(session, partner, "INV/F/0300", {"KSGA-24": 3}).claim
    for n in range(8):
        submit(session, partner, f"INV/F/031{n}", {"KSGA-24": 3})
    session.expire_all()
    assert fraud.assess(session, claims.get_claim(session, claim.claim_no), partner, []) == []


def test_signal_as_json_is_what_reviewers_get() -> None:
    signal = fraud.Signal("velocity", fraud.Severity.REVIEW, {"id": "x", "en": "y"}, {"n": 1})
    assert signal.as_json() == {
        "code": "velocity",
        "severity": "review",
        "description": {"id": "x", "en": "y"},
        "details": {"n": 1},
    }
    assert fraud.needs_review([signal.as_json()])
    assert not fraud.needs_review([{**signal.as_json(), "severity": "refuse"}])
