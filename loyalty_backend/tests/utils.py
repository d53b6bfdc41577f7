"""Helpers shared by tests."""

import contextlib
import fcntl
import itertools
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import make_session_factory
from app.models import LedgerEntry, Partner, PointsAccount, PointsLot
from app.models.enums import PartnerRole
from app.services import partners

if TYPE_CHECKING:
    from tests.conftest import TestDB

_serial = itertools.count(1)


# Races with this many threads hold that many PostgreSQL connections: two at once (one per
# xdist worker) could pass the server's max_connections (100), so they take turns.
BIG_RACE = 25
_RACE_LOCK = Path(tempfile.gettempdir()) / "mitra-backend-tests-big-race.lock"


@contextlib.contextmanager
def _one_big_race_at_a_time(workers: int) -> Iterator[None]:
    if workers < BIG_RACE:
        yield
        return
    with _RACE_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def race(
    db: "TestDB",
    workers: int,
    task: Callable[[Session, int], Any],
    expected: tuple[type[Exception], ...] = (),
) -> list[Any]:
    """Run ``task(session, index)`` in ``workers`` threads, each with its own session and
    connection, released together by a barrier. The ``expected`` domain errors are
    returned in the results instead of raised (a race's losers)."""
    with _one_big_race_at_a_time(workers):
        return _race(db, workers, task, expected)


def _race(
    db: "TestDB",
    workers: int,
    task: Callable[[Session, int], Any],
    expected: tuple[type[Exception], ...],
) -> list[Any]:
    engine = db.new_engine(pool_size=workers + 5, max_overflow=0)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(workers)

    def run(index: int) -> Any:
        with factory() as session:
            barrier.wait(timeout=30)
            try:
                return task(session, index)
            except expected as exc:
                return exc

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(run, range(workers)))
    finally:
        engine.dispose()


def new_partner(session: Session, wa_id: str | None = None, **kwargs: object) -> Partner:
    params: dict = {"name": "Test Partner", "role": PartnerRole.RETAILER, "region": "Bali"}
    params.update(kwargs)
    return partners.create_partner(session, wa_id=wa_id or f"6281777{next(_serial):06d}", **params)


def account_balance(session: Session, partner_id: int) -> int:
    return session.scalar(
        select(PointsAccount.balance).where(PointsAccount.partner_id == partner_id)
    )


def assert_ledger_consistent(session: Session, partner_id: int) -> int:
    """balance == sum(ledger deltas) == sum(lot remainders) >= 0; returns the balance."""
    session.commit()  # see the latest committed state
    balance = account_balance(session, partner_id)
    ledger_sum = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            LedgerEntry.partner_id == partner_id
        )
    )
    lots_sum = session.scalar(
        select(func.coalesce(func.sum(PointsLot.points_remaining), 0)).where(
            PointsLot.partner_id == partner_id
        )
    )
    assert balance == ledger_sum == lots_sum, (balance, ledger_sum, lots_sum)
    assert balance >= 0
    return balance
