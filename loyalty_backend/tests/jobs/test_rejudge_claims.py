"""python -m app.jobs.rejudge_claims: claims left ``submitted`` (a crash) get judged."""

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import make_session_factory
from app.jobs import rejudge_claims
from app.models import Claim, ClaimLine
from app.services import claims
from tests.claims_utils import erp_invoice, load_catalogue, partner_with_code
from tests.conftest import TestDB


@pytest.fixture(autouse=True)
def catalogue(session: Session) -> None:
    load_catalogue(session)


def _left_submitted(session: Session, partner_id: int, invoice: str, minutes_ago: int) -> str:
    """A claim as the first transaction of submit_claim leaves it, never judged."""
    session.commit()
    with session.begin():
        claim = Claim(
            partner_id=partner_id,
            kind="sales",
            status="submitted",
            invoice_no=invoice,
            invoice_no_normalised=invoice,
            invoice_date=None,
            idempotency_key=f"wa:{invoice}",
            points=0,
            rules=[],
            reasons=[],
            signals=[],
            created_at=utcnow() - timedelta(minutes=minutes_ago),
        )
        session.add(claim)
        session.flush()
        claim.claim_no = claims.claim_no_for(claim.id)
        session.add(ClaimLine(claim=claim, sku="KSGA-24", quantity=2))
    return claim.claim_no


def test_the_job_judges_what_was_left(
    db: TestDB, session: Session, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/J/0001", partner.erp_customer_code, {"KSGA-24": 2})
    old = _left_submitted(session, partner.id, "INV/J/0001", minutes_ago=10)
    recent = _left_submitted(session, partner.id, "INV/J/0002", minutes_ago=0)

    # --older-than leaves claims a live request may still be judging.
    assert rejudge_claims.run(session, older_than=timedelta(minutes=5)) == 1
    assert claims.get_claim(session, old).status == "approved"
    assert claims.get_claim(session, recent).status == "submitted"

    monkeypatch.setattr(
        rejudge_claims, "get_session_factory", lambda: make_session_factory(db.engine)
    )
    assert rejudge_claims.main([]) == 0
    assert "re-judged 1 submitted claims" in capsys.readouterr().out
    session.commit()  # read what the job committed
    claim = claims.get_claim(session, recent)
    assert claim.status == "pending_review" and claim.reasons[0]["code"] == "not_in_erp"
    assert rejudge_claims.run(session) == 0


def test_a_failing_startup_job_never_stops_the_backend(caplog) -> None:
    def broken():
        raise RuntimeError("database down")
        yield  # pragma: no cover

    rejudge_claims.run_at_startup(broken)
    assert "re-judging submitted claims at startup failed" in caplog.text
