"""Concurrent writers on real connections: the ledger must stay exact under races."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import make_session_factory
from app.models import LedgerEntry
from app.services import ledger
from app.services.errors import InsufficientPoints
from tests.conftest import TestDB
from tests.utils import assert_ledger_consistent, new_partner


def _race(db: TestDB, workers: int, task: Callable[[Session, int], Any]) -> list[Any]:
    """Run ``task`` in ``workers`` threads, each with its own session and connection,
    released together by a barrier."""
    engine = db.new_engine(pool_size=workers + 5, max_overflow=0)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(workers)

    def run(index: int) -> Any:
        with factory() as session:
            barrier.wait(timeout=30)
            try:
                return task(session, index)
            except InsufficientPoints as exc:
                return exc

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(run, range(workers)))
    finally:
        engine.dispose()


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

    results = _race(db, 50, task)
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

    results = _race(db, 20, task)
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
            idempotency_key="quiz:Q-9",
        )

    results = _race(db, 20, task)
    assert sum(r.created for r in results) == 1
    assert len({r.entry.id for r in results}) == 1
    assert assert_ledger_consistent(session, partner.id) == 250


def test_spends_earns_and_expiry_interleaved(db: TestDB, session: Session) -> None:
    partner_id = _fund(session, 500)

    def task(s: Session, index: int) -> Any:
        if index % 3 == 0:
            return ledger.earn(
                s,
                partner_id=partner_id,
                points=30,
                reason="claim",
                reference_type="claim",
                reference_id=f"c{index}",
                idempotency_key=f"mix-earn:{index}",
            )
        if index % 3 == 1:
            return ledger.spend(
                s,
                partner_id=partner_id,
                points=70,
                reason="redemption",
                reference_type="redemption",
                reference_id=f"r{index}",
                idempotency_key=f"mix-spend:{index}",
            )
        return ledger.expire_due_lots(s, partner_id=partner_id)

    _race(db, 30, task)
    balance = assert_ledger_consistent(session, partner_id)
    assert balance >= 0
