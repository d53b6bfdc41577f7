"""The outbox under concurrency (issue 21): racing leases never share a row, racing
enqueues of one event leave one row. On PostgreSQL the lease is SELECT ... FOR UPDATE
SKIP LOCKED; SQLite serialises writers (both backends run these)."""

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import write_transaction
from app.models import Notification
from app.services import notifications
from tests.conftest import TestDB
from tests.utils import new_partner, race

NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


def test_two_notifiers_leasing_at_once_never_lease_the_same_row(
    db: TestDB, session: Session
) -> None:
    partners = [new_partner(session) for _ in range(4)]
    with write_transaction(session):
        for n in range(40):
            notifications.enqueue(
                session, partners[n % 4], "dormant_nudge", {"days": n}, dedupe_key=f"k{n}", now=NOW
            )

    def lease(s: Session, _index: int) -> list[int]:
        leased: list[int] = []
        while groups := notifications.lease_due(s, NOW, limit=3, lease_seconds=300):
            leased.extend(i for group in groups for i in group.ids)
        return leased

    first, second = race(db, 2, lease)
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(session.scalars(select(Notification.id)).all())


def test_racing_enqueues_of_one_event_leave_one_row(db: TestDB, session: Session) -> None:
    partner = new_partner(session)

    def enqueue(s: Session, _index: int) -> bool:
        with write_transaction(s):
            return notifications.enqueue(
                s, partner, "tier_up", {"tier": "Gold"}, dedupe_key="tier_up:race", now=NOW
            )

    results = race(db, 2, enqueue)
    assert sorted(results) == [False, True]
    session.commit()
    assert session.scalar(select(func.count()).select_from(Notification)) == 1
