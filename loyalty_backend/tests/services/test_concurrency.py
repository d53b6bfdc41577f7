"""Concurrent writers on real connections: the ledger must stay exact under races."""

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.models import LedgerEntry, LotConsumption, PointsLot
from app.services import ledger
from app.services.errors import InsufficientPoints
from tests.conftest import TestDB
from tests.utils import assert_ledger_consistent, new_partner, race


def _fund(session: Session, points: int) -> int:
    partner = new_partner(session)
    ledger.earn(
        session,
        partner_id=partner.id,
        points=points,
        reason="claim",
        reference_type="claim",
        reference_id="fund",
        idempotency_key=f"fund:{partner.id}",
    )
    return partner.id


def test_fifty_concurrent_spends_of_100_against_1000(db: TestDB, session: Session) -> None:
    partner_id = _fund(session, 1000)

    def task(s: Session, index: int) -> Any:
        return ledger.spend(
            s,
            partner_id=partner_id,
            points=100,
            reason="redemption",
            reference_type="redemption",
            reference_id=f"r{index}",
            idempotency_key=f"race:{index}",
        )

    results = race(db, 50, task, (InsufficientPoints,))
    succeeded = [r for r in results if isinstance(r, ledger.LedgerResult)]
    refused = [r for r in results if isinstance(r, InsufficientPoints)]
    assert len(succeeded) == 10 and len(refused) == 40
    assert all(r.created for r in succeeded)
    assert sorted(r.entry.balance_after for r in succeeded) == list(range(0, 1000, 100))
    assert assert_ledger_consistent(session, partner_id) == 0


def test_same_key_sent_twenty_times_at_once(db: TestDB, session: Session) -> None:
    partner_id = _fund(session, 1000)

    def task(s: Session, _index: int) -> Any:
        return ledger.spend(
            s,
            partner_id=partner_id,
            points=100,
            reason="redemption",
            reference_type="redemption",
            reference_id="R-1",
            idempotency_key="redeem:R-1",
        )

    results = race(db, 20, task, (InsufficientPoints,))
    assert all(isinstance(r, ledger.LedgerResult) for r in results), results
    assert sum(r.created for r in results) == 1
    assert len({r.entry.id for r in results}) == 1
    assert assert_ledger_consistent(session, partner_id) == 900
    count = session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.idempotency_key == "redeem:R-1")
    )
    assert count == 1
    # A later replay returns the first entry and spends nothing.
    replay = task(session, 0)
    assert not replay.created and replay.entry.id == results[0].entry.id
    assert assert_ledger_consistent(session, partner_id) == 900


def test_same_earn_key_at_once_credits_once(db: TestDB, session: Session) -> None:
    partner = new_partner(session)

    def task(s: Session, _index: int) -> Any:
        return ledger.earn(
            s,
            partner_id=partner.id,
            points=250,
            reason="quiz",
            reference_type="quiz_attempt",
            reference_id="Q-9",
            idempotency_key="attempt:Q-9",
        )

    results = race(db, 20, task, (InsufficientPoints,))
    assert sum(r.created for r in results) == 1
    assert len({r.entry.id for r in results}) == 1
    assert assert_ledger_consistent(session, partner.id) == 250


def test_spends_earns_and_expiry_interleaved(db: TestDB, session: Session) -> None:
    """Earns, spends and expiry runs race while three lots are due: each due lot expires
    exactly once, never gets spent, and the balance is exact."""
    now = utcnow()
    partner = new_partner(session)
    due_lots = []
    for n, days_ago in enumerate((400, 380, 366)):  # all past their last day
        result = ledger.earn(
            session,
            partner_id=partner.id,
            points=100 + n,
            reason="claim",
            reference_type="claim",
            reference_id=f"old{n}",
            idempotency_key=f"old:{n}",
            now=now - timedelta(days=days_ago),
        )
        due_lots.append(result.entry.id)
    ledger.earn(
        session,
        partner_id=partner.id,
        points=500,
        reason="claim",
        reference_type="claim",
        reference_id="fresh",
        idempotency_key="fresh",
        now=now - timedelta(days=1),
    )
    session.commit()
    assert (
        session.scalar(
            select(func.count()).select_from(PointsLot).where(PointsLot.expires_at < now)
        )
        == 3
    )  # the clock says they are due: the race below must expire them

    def task(s: Session, index: int) -> Any:
        if index % 3 == 0:
            return ledger.earn(
                s,
                partner_id=partner.id,
                points=30,
                reason="claim",
                reference_type="claim",
                reference_id=f"c{index}",
                idempotency_key=f"mix-earn:{index}",
                now=now,
            )
        if index % 3 == 1:
            return ledger.spend(
                s,
                partner_id=partner.id,
                points=70,
                reason="redemption",
                reference_type="redemption",
                reference_id=f"r{index}",
                idempotency_key=f"mix-spend:{index}",
                now=now,
            )
        return ledger.expire_due_lots(s, now, partner_id=partner.id)

    results = race(db, 30, task, (InsufficientPoints,))
    session.commit()  # read what the racers committed
    earned = [r for i, r in enumerate(results) if i % 3 == 0]
    spent = [r for i, r in enumerate(results) if i % 3 == 1]
    assert all(isinstance(r, ledger.LedgerResult) and r.created for r in earned)
    succeeded = [r for r in spent if isinstance(r, ledger.LedgerResult)]
    assert all(r.created for r in succeeded)
    assert all(isinstance(r, ledger.LedgerResult | InsufficientPoints) for r in spent)

    # Every due lot expired exactly once, under its own key, for its whole remainder.
    expiries = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.partner_id == partner.id, LedgerEntry.reason == "expiry"
        )
    ).all()
    lots_by_entry = {
        lot.ledger_entry_id: lot
        for lot in session.scalars(select(PointsLot).where(PointsLot.partner_id == partner.id))
    }
    assert sorted(e.idempotency_key for e in expiries) == sorted(
        f"expiry:lot:{lots_by_entry[entry_id].id}" for entry_id in due_lots
    )
    assert sorted(e.delta for e in expiries) == [-102, -101, -100]
    assert all(lots_by_entry[entry_id].points_remaining == 0 for entry_id in due_lots)
    # Nothing was spent from a due lot: spends swept it first.
    spent_from_due = session.scalar(
        select(func.count())
        .select_from(LotConsumption)
        .join(LedgerEntry, LedgerEntry.id == LotConsumption.ledger_entry_id)
        .where(
            LotConsumption.lot_id.in_([lots_by_entry[e].id for e in due_lots]),
            LedgerEntry.reason != "expiry",
        )
    )
    assert spent_from_due == 0

    expected = 500 + 30 * len(earned) - 70 * len(succeeded)
    assert assert_ledger_consistent(session, partner.id) == expected
    assert len(succeeded) >= 7  # 500 spendable at the start covers seven spends at least
