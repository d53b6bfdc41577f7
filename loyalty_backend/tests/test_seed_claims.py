"""The demo seed's claims: Budi has one approved and one pending, and can claim the sample."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.demo_fixtures import BUDI
from app.initial_data import BUDI_APPROVED_CLAIM, BUDI_PENDING_CLAIM
from app.models import Claim, LedgerEntry, Partner
from app.services import claims, erp
from tests.claims_utils import submit


def _budi(session: Session) -> Partner:
    return session.scalars(select(Partner).where(Partner.wa_id == BUDI.wa_id)).one()


def test_budi_has_an_approved_and_a_pending_claim(session: Session, seeded: datetime) -> None:
    budi = _budi(session)
    approved, pending = claims.list_claims(session, budi.id, limit=10)[::-1]
    assert session.scalars(select(Claim.partner_id)).all() == [budi.id, budi.id]

    assert approved.claim_no == BUDI_APPROVED_CLAIM.claim_no and approved.status == "approved"
    assert approved.invoice_no == "INV-SJ-2560" and approved.points == 1500
    assert [(r["rule"], r["points"]) for r in approved.rules] == [
        ("BASE", 1200),
        ("TIER-MULTIPLIER", 300),
    ]
    [line] = approved.lines
    assert (line.sku, line.quantity, line.erp_quantity, line.match_status) == (
        "KSGA-24",
        24,
        24,
        "matched",
    )
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.reference_id == approved.claim_no)
    ).one()
    assert (entry.delta, entry.reason, entry.reference_type) == (1500, "claim", "claim")
    assert entry.description == "Sales claim INV-SJ-2560"
    assert abs((entry.created_at - approved.created_at).total_seconds()) < 1

    assert pending.claim_no == BUDI_PENDING_CLAIM.claim_no
    assert pending.status == "pending_review" and pending.points == 0
    assert [r["code"] for r in pending.reasons] == ["not_in_erp"]
    assert erp.sales_lines_for_invoice(session, pending.invoice_no_normalised) == []
    assert pending.created_at > approved.created_at


def test_the_sample_invoice_is_approved_at_once(session: Session, seeded: datetime) -> None:
    """What a newcomer sees in the first minute: the web phone's sample invoice."""
    claim = submit(
        session,
        _budi(session),
        "INV/DN/2611/00123",
        {"KSGA-24": 10, "TML-48": 5},
        invoice_date=None,
    ).claim
    assert claim.status == "approved" and claim.points > 0
    assert claim.claim_no == "KLM-000003"
