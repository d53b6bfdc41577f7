"""The daily expiry job: what it expires, per partner, and that one failure stops nothing."""

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import app.jobs.expire as expire_job
from app.core.clock import WIB, utcnow
from app.core.db import make_session_factory
from app.models import LedgerEntry
from app.services import ledger
from tests.conftest import TestDB
from tests.utils import assert_ledger_consistent, new_partner


@pytest.fixture(autouse=True)
def job_database(db: TestDB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expire_job, "get_session_factory", lambda: make_session_factory(db.engine))


def _earn(session: Session, partner_id: int, points: int, key: str, at: datetime) -> None:
    ledger.earn(
        session,
        partner_id=partner_id,
        points=points,
        reason="quiz",
        reference_type="quiz_attempt",
        reference_id=key,
        idempotency_key=key,
        now=at,
        expires_in_days=30,
    )


def _expiries(session: Session, partner_id: int) -> list[int]:
    session.commit()
    return list(
        session.scalars(
            select(LedgerEntry.delta).where(
                LedgerEntry.partner_id == partner_id, LedgerEntry.reason == "expiry"
            )
        )
    )


def test_job_expires_what_is_due_and_nothing_else(session: Session) -> None:
    earned = datetime(2024, 1, 10, 15, 0, tzinfo=WIB)  # last day: 9 February (WIB)
    a, b, c = new_partner(session), new_partner(session), new_partner(session)
    _earn(session, a.id, 120, "a-old", earned)
    _earn(session, a.id, 80, "a-new", earned + timedelta(days=5))
    _earn(session, b.id, 45, "b-old", earned)
    ledger.spend(
        session,
        partner_id=b.id,
        points=15,
        reason="redemption",
        reference_type="redemption",
        reference_id="r",
        idempotency_key="b-spend",
        now=earned + timedelta(days=1),
    )
    _earn(session, c.id, 10, "c-new", earned + timedelta(days=20))

    # The last day, 23:00 WIB: nothing is due yet.
    before = expire_job.run(datetime(2024, 2, 9, 23, 0, tzinfo=WIB))
    assert (before.entries, before.points, before.failed_partner_ids) == (0, 0, [])

    result = expire_job.run(datetime(2024, 2, 10, 0, 0, tzinfo=WIB))
    assert (result.entries, result.points) == (2, 120 + 30)
    assert result.failed_partner_ids == []
    assert _expiries(session, a.id) == [-120]
    assert _expiries(session, b.id) == [-30]  # only what the spend left
    assert _expiries(session, c.id) == []
    assert assert_ledger_consistent(session, a.id) == 80
    assert assert_ledger_consistent(session, b.id) == 0
    assert assert_ledger_consistent(session, c.id) == 10

    # Running again the same day finds nothing; later the rest expires.
    assert expire_job.run(datetime(2024, 2, 10, 12, 0, tzinfo=WIB)).points == 0
    assert expire_job.run(datetime(2024, 3, 31, tzinfo=WIB)).points == 90
    assert [assert_ledger_consistent(session, p.id) for p in (a, b, c)] == [0, 0, 0]


def test_one_partners_failure_does_not_stop_the_others(
    session: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    long_ago = utcnow() - timedelta(days=60)
    first, broken, last = new_partner(session), new_partner(session), new_partner(session)
    for partner in (first, broken, last):
        _earn(session, partner.id, 100, f"k{partner.id}", long_ago)

    real = ledger._expire_partner_lots

    def failing_for_one(s: Session, partner_id: int, now: datetime, actor: str) -> list:
        if partner_id == broken.id:
            real(s, partner_id, now, actor)  # writes, then fails: must be rolled back
            raise RuntimeError("disk on fire")
        return real(s, partner_id, now, actor)

    monkeypatch.setattr(ledger, "_expire_partner_lots", failing_for_one)
    with caplog.at_level(logging.ERROR, logger="app.services.ledger"):
        result = expire_job.run()
    assert result.failed_partner_ids == [broken.id]
    assert (result.entries, result.points) == (2, 200)
    assert _expiries(session, first.id) == [-100]
    assert _expiries(session, last.id) == [-100]
    assert _expiries(session, broken.id) == []  # rolled back, retried next run
    assert assert_ledger_consistent(session, broken.id) == 100
    [record] = [r for r in caplog.records if r.getMessage() == "expiry failed for a partner"]
    assert record.partner_id == broken.id and record.exc_info

    # main() reports the failure through its exit status...
    assert expire_job.main() == 1
    # ...and once the cause is gone, the next run catches up.
    monkeypatch.setattr(ledger, "_expire_partner_lots", real)
    assert expire_job.main() == 0
    assert _expiries(session, broken.id) == [-100]
    assert assert_ledger_consistent(session, broken.id) == 0
