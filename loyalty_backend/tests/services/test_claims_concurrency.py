"""Racing claims on real connections (PostgreSQL and SQLite): one invoice, one credit."""

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Claim, LedgerEntry, Partner
from app.services import claims
from app.services.errors import ClaimAlreadyDecided, DuplicateClaim
from tests.claims_utils import erp_invoice, load_catalogue, partner_with_code, submit
from tests.conftest import TestDB
from tests.utils import assert_ledger_consistent, race

WORKERS = 20


@pytest.fixture(autouse=True)
def catalogue(session: Session) -> None:
    load_catalogue(session)


def _credits(session: Session, partner_id: int) -> list[LedgerEntry]:
    session.commit()
    return list(
        session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.partner_id == partner_id, LedgerEntry.reason == "claim"
            )
        )
    )


def test_twenty_submissions_of_one_invoice_accept_one(db: TestDB, session: Session) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/RACE/0001", partner.erp_customer_code, {"KSGA-24": 10})

    def task(s: Session, index: int) -> Any:
        me = s.get(Partner, partner.id)
        # Spelled differently each time: the normalised number is the key.
        spelling = ("INV/RACE/0001", "inv-race-0001", "INV RACE 0001")[index % 3]
        return submit(s, me, spelling, {"KSGA-24": 10}, key=f"wa:race-{index}")

    results = race(db, WORKERS, task, (DuplicateClaim, ClaimAlreadyDecided))
    accepted = [r for r in results if isinstance(r, claims.SubmitResult)]
    refused = [r for r in results if isinstance(r, DuplicateClaim)]
    assert len(accepted) == 1 and len(refused) == WORKERS - 1, results
    winner = accepted[0].claim
    assert accepted[0].created and winner.status == "approved" and winner.points > 0
    assert {r.code for r in refused} == {"duplicate_invoice"}
    assert {r.claim_no for r in refused} == {winner.claim_no}  # the partner's own claim
    session.commit()  # read what the racers committed
    assert session.scalar(select(func.count()).select_from(Claim)) == 1
    [credit] = _credits(session, partner.id)
    assert credit.delta == winner.points and credit.reference_id == winner.claim_no
    assert assert_ledger_consistent(session, partner.id) == winner.points


def test_twenty_replays_of_one_key_make_one_claim(db: TestDB, session: Session) -> None:
    partner = partner_with_code(session)
    erp_invoice(session, "INV/RACE/0002", partner.erp_customer_code, {"TML-48": 7})

    def task(s: Session, _index: int) -> Any:
        me = s.get(Partner, partner.id)
        return submit(s, me, "INV/RACE/0002", {"TML-48": 7}, key="wa:wamid.SAME")

    results = race(db, WORKERS, task, (DuplicateClaim, ClaimAlreadyDecided))
    assert all(isinstance(r, claims.SubmitResult) for r in results), results
    assert sum(r.created for r in results) == 1
    assert len({r.claim.id for r in results}) == 1
    assert {r.claim.status for r in results} == {"approved"}  # a replay never sees "submitted"
    [credit] = _credits(session, partner.id)
    assert assert_ledger_consistent(session, partner.id) == credit.delta


def test_twenty_reviewers_approving_one_claim_credit_once(db: TestDB, session: Session) -> None:
    partner = partner_with_code(session)
    pending = submit(session, partner, "INV/RACE/0003", {"KHT-24": 3}).claim
    assert pending.status == "pending_review"

    def task(s: Session, index: int) -> Any:
        return claims.decide(s, pending.claim_no, "approve", f"ok {index}", f"admin{index}")

    results = race(db, WORKERS, task, (DuplicateClaim, ClaimAlreadyDecided))
    approved = [r for r in results if not isinstance(r, ClaimAlreadyDecided)]
    assert len(approved) == 1, results
    assert approved[0].status == "approved"
    [credit] = _credits(session, partner.id)
    assert credit.delta == approved[0].points > 0
    assert assert_ledger_consistent(session, partner.id) == credit.delta


def test_erp_lines_arriving_while_a_reviewer_approves_credit_once(
    db: TestDB, session: Session
) -> None:
    """The ERP push re-judges the pending claim while reviewers approve it: one credit."""
    partner = partner_with_code(session)
    pending = submit(session, partner, "INV/RACE/0004", {"SCK-12": 2}).claim

    def task(s: Session, index: int) -> Any:
        if index == 0:
            return erp_invoice(s, "INV/RACE/0004", partner.erp_customer_code, {"SCK-12": 2})
        return claims.decide(s, pending.claim_no, "approve", "", "admin")

    race(db, 6, task, (DuplicateClaim, ClaimAlreadyDecided))
    assert claims.get_claim(session, pending.claim_no).status == "approved"
    assert len(_credits(session, partner.id)) == 1
    assert_ledger_consistent(session, partner.id)
