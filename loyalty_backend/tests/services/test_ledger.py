import contextlib
import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import WIB, utcnow, wib_date, wib_end_of_day
from app.models import AuditLog, LedgerEntry, LotConsumption, PointsLot
from app.models.enums import PartnerStatus
from app.services import ledger, partners
from app.services.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    PartnerLeft,
    PartnerSuspended,
    ReservedIdempotencyKey,
)
from app.services.ledger import RESERVED_KEY_PREFIXES, KeyNamespace
from tests.conftest import TestDB
from tests.utils import account_balance, assert_ledger_consistent, new_partner


def earn(session: Session, partner_id: int, points: int, key: str, **kw: object):
    params: dict = {"reason": "claim", "reference_type": "claim", "reference_id": key}
    params.update(kw)
    return ledger.earn(session, partner_id=partner_id, points=points, idempotency_key=key, **params)


def spend(session: Session, partner_id: int, points: int, key: str, **kw: object):
    params: dict = {"reason": "redemption", "reference_type": "redemption", "reference_id": key}
    params.update(kw)
    return ledger.spend(
        session, partner_id=partner_id, points=points, idempotency_key=key, **params
    )


def lots(session: Session, partner_id: int) -> list[PointsLot]:
    session.commit()
    return list(
        session.scalars(
            select(PointsLot)
            .where(PointsLot.partner_id == partner_id)
            .order_by(PointsLot.id)
            .execution_options(populate_existing=True)
        )
    )


def test_earn_writes_entry_lot_balance_and_audit(session: Session) -> None:
    partner = new_partner(session)
    now = utcnow()
    result = earn(session, partner.id, 250, "k1", now=now, description="Sales claim")
    assert result.created
    entry = result.entry
    assert (entry.delta, entry.balance_after, entry.reason) == (250, 250, "claim")
    assert entry.created_at == now and entry.created_at.tzinfo is not None
    [lot] = lots(session, partner.id)
    assert (lot.points_earned, lot.points_remaining, lot.ledger_entry_id) == (250, 250, entry.id)
    assert lot.expires_at == wib_end_of_day(wib_date(now) + timedelta(days=365))
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "points.earn")).one()
    assert audit.entity_id == str(entry.id) and audit.details["delta"] == 250
    assert assert_ledger_consistent(session, partner.id) == 250


def test_replayed_key_returns_first_entry_and_changes_nothing(session: Session) -> None:
    partner = new_partner(session)
    first = earn(session, partner.id, 100, "same")
    second = earn(session, partner.id, 100, "same")
    assert not second.created and second.entry.id == first.entry.id
    spent = spend(session, partner.id, 40, "spend-1")
    again = spend(session, partner.id, 40, "spend-1")
    assert not again.created and again.entry.id == spent.entry.id
    assert assert_ledger_consistent(session, partner.id) == 60
    assert session.scalar(select(text("count(*)")).select_from(LedgerEntry)) == 2


def test_replay_with_different_request_is_refused(session: Session) -> None:
    partner, other = new_partner(session), new_partner(session)
    earn(session, partner.id, 100, "k")
    for call in (
        lambda: earn(session, partner.id, 101, "k"),
        lambda: earn(session, partner.id, 100, "k", reason="quiz"),
        lambda: earn(session, other.id, 100, "k"),
        lambda: spend(session, partner.id, 100, "k"),
    ):
        with pytest.raises(IdempotencyConflict):
            call()
    assert assert_ledger_consistent(session, partner.id) == 100
    assert assert_ledger_consistent(session, other.id) == 0


def test_insufficient_points_changes_nothing(session: Session) -> None:
    partner = new_partner(session)
    earn(session, partner.id, 100, "e")
    with pytest.raises(InsufficientPoints):
        spend(session, partner.id, 101, "s")
    assert assert_ledger_consistent(session, partner.id) == 100
    assert (
        session.scalars(select(LedgerEntry).where(LedgerEntry.idempotency_key == "s")).all() == []
    )
    # The key was not used up by the failed attempt.
    assert spend(session, partner.id, 100, "s").created


def test_spend_without_any_points(session: Session) -> None:
    partner = new_partner(session)
    with pytest.raises(InsufficientPoints):
        spend(session, partner.id, 1, "nothing")


def test_caller_checked_spend_needs_the_callers_writer_transaction(session: Session) -> None:
    """The shortcut skips the account lock's status read: only inside a transaction that
    took that lock may it be used, never on its own."""
    partner = new_partner(session)
    earn(session, partner.id, 100, "e")
    with pytest.raises(RuntimeError, match="writer transaction"):
        ledger.spend(
            session, partner_id=partner.id, points=10, reason="redemption",
            reference_type="redemption", reference_id="r", idempotency_key="redemption:r",
            key_owner=KeyNamespace.REDEMPTION, caller_checked=True,
        )
    session.rollback()
    assert assert_ledger_consistent(session, partner.id) == 100


def test_lots_are_consumed_soonest_expiry_first(session: Session) -> None:
    partner = new_partner(session)
    now = utcnow()
    a = earn(session, partner.id, 100, "a", now=now - timedelta(days=10)).entry  # expires +355
    b = earn(session, partner.id, 100, "b", now=now - timedelta(days=5), expires_in_days=30).entry
    c = earn(session, partner.id, 100, "c", now=now - timedelta(days=20)).entry  # expires +345
    spent = spend(session, partner.id, 150, "s", now=now).entry
    by_entry = {lot.ledger_entry_id: lot for lot in lots(session, partner.id)}
    # b expires first (in 25 days), then c (345), then a (355)
    assert by_entry[b.id].points_remaining == 0
    assert by_entry[c.id].points_remaining == 50
    assert by_entry[a.id].points_remaining == 100
    taken = {
        row.lot_id: row.points
        for row in session.scalars(
            select(LotConsumption).where(LotConsumption.ledger_entry_id == spent.id)
        )
    }
    assert taken == {by_entry[b.id].id: 100, by_entry[c.id].id: 50}
    assert assert_ledger_consistent(session, partner.id) == 150


def test_expiry_writes_one_row_per_lot_remainder(session: Session) -> None:
    partner = new_partner(session)
    now = utcnow()
    old = earn(session, partner.id, 300, "old", now=now - timedelta(days=400)).entry
    earn(session, partner.id, 200, "new", now=now - timedelta(days=10))
    spend(session, partner.id, 100, "s", now=now - timedelta(days=390))  # from the old lot
    assert ledger.expire_due_lots(session, now - timedelta(days=36)) == []
    written = ledger.expire_due_lots(session, now)
    assert len(written) == 1
    expiry = written[0]
    assert (expiry.delta, expiry.reason, expiry.balance_after) == (-200, "expiry", 200)
    [old_lot] = [lot for lot in lots(session, partner.id) if lot.ledger_entry_id == old.id]
    assert expiry.idempotency_key == f"expiry:lot:{old_lot.id}"
    assert expiry.reference_type == "points_lot" and expiry.reference_id == str(old_lot.id)
    assert old_lot.points_remaining == 0
    # Running it again finds nothing left to expire.
    assert ledger.expire_due_lots(session, now + timedelta(seconds=1)) == []
    assert assert_ledger_consistent(session, partner.id) == 200
    actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions.count("points.expire") == 1


def test_expired_points_are_not_spendable_nor_shown(session: Session) -> None:
    partner = new_partner(session)
    now = utcnow()
    earn(session, partner.id, 500, "old", now=now - timedelta(days=366))
    earn(session, partner.id, 100, "new", now=now - timedelta(days=1))
    # Nothing has run the expiry job yet: reading the balance sweeps it.
    view = ledger.balance(session, partner.id, now)
    assert view.available_points == 100
    assert view.lifetime_earned == 600
    earn(session, partner.id, 50, "older", now=now - timedelta(days=400))
    with pytest.raises(InsufficientPoints):
        spend(session, partner.id, 101, "s", now=now)
    # The failed spend rolled back its sweep too; the next read sweeps again.
    assert ledger.balance(session, partner.id, now).available_points == 100
    assert assert_ledger_consistent(session, partner.id) == 100


def test_expiring_view(session: Session) -> None:
    partner = new_partner(session)
    now = utcnow()
    earn(session, partner.id, 100, "a", now=now - timedelta(days=350))  # expires in 15 days
    earn(session, partner.id, 200, "b", now=now - timedelta(days=300))  # in 65 days
    earn(session, partner.id, 400, "c", now=now)  # in 365 days
    spend(session, partner.id, 30, "s", now=now)
    view = ledger.balance(session, partner.id, now)
    assert (view.available_points, view.expiring_soon_points) == (670, 70)
    assert view.expiring_soon_at == wib_end_of_day(wib_date(now) + timedelta(days=15))
    soon = ledger.expiring_lots(session, partner.id, 90, now)
    assert [(x.points, x.reason) for x in soon] == [(70, "claim"), (200, "claim")]


def test_history_orders_and_pages(session: Session) -> None:
    partner = new_partner(session)
    now = utcnow()
    for n in range(7):
        earn(session, partner.id, 10 + n, f"k{n}", now=now - timedelta(hours=7 - n))
    items, total = ledger.history(session, partner.id, limit=3, offset=0)
    assert total == 7 and [e.delta for e in items] == [16, 15, 14]
    items, _ = ledger.history(session, partner.id, limit=3, offset=6)
    assert [e.delta for e in items] == [10]


def test_balance_equals_sum_of_ledger_through_a_random_walk(session: Session) -> None:
    rng = random.Random(7)
    partner = new_partner(session)
    start = utcnow() - timedelta(days=800)
    for step in range(120):
        at = start + timedelta(days=step * 6)
        action = rng.random()
        if action < 0.5:
            earn(
                session,
                partner.id,
                rng.randint(1, 500),
                f"e{step}",
                now=at,
                expires_in_days=rng.choice((30, 90, 365)),
            )
        elif action < 0.9:
            with contextlib.suppress(InsufficientPoints):
                spend(session, partner.id, rng.randint(1, 400), f"s{step}", now=at)
        else:
            ledger.expire_due_lots(session, at)
        assert_ledger_consistent(session, partner.id)
    entries, _ = ledger.history(session, partner.id, limit=100, offset=0)
    assert any(e.reason == "expiry" for e in entries)


def test_ledger_entries_cannot_be_edited_or_deleted(db: TestDB, session: Session) -> None:
    partner = new_partner(session)
    entry_id = earn(session, partner.id, 100, "k").entry.id
    for statement in (
        f"UPDATE ledger_entry SET delta = 1000 WHERE id = {entry_id}",
        f"DELETE FROM ledger_entry WHERE id = {entry_id}",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert assert_ledger_consistent(session, partner.id) == 100


def test_database_refuses_a_negative_balance(db: TestDB, session: Session) -> None:
    partner = new_partner(session)
    earn(session, partner.id, 10, "k")
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE points_account SET balance = -1 WHERE partner_id = {partner.id}"
        )
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE points_lot SET points_remaining = 11 WHERE partner_id = {partner.id}"
        )
    assert account_balance(session, partner.id) == 10


@pytest.mark.parametrize("points", [0, -1])
def test_service_refuses_non_positive_points(session: Session, points: int) -> None:
    partner = new_partner(session)
    with pytest.raises(ValueError):
        earn(session, partner.id, points, "k")
    with pytest.raises(ValueError):
        spend(session, partner.id, points, "k")


def test_service_refuses_wrong_direction_reasons(session: Session) -> None:
    partner = new_partner(session)
    with pytest.raises(ValueError):
        earn(session, partner.id, 10, "k", reason="expiry")
    with pytest.raises(ValueError):
        spend(session, partner.id, 10, "k", reason="claim")


def test_adjustments_go_both_ways(session: Session) -> None:
    partner = new_partner(session)
    earn(session, partner.id, 100, "up", reason="adjustment", reference_type="adjustment")
    spend(session, partner.id, 30, "down", reason="adjustment", reference_type="adjustment")
    assert assert_ledger_consistent(session, partner.id) == 70


# --- expiry at the end of the WIB day --------------------------------------------------


def test_a_lot_expires_at_the_end_of_its_wib_day_not_at_the_earn_time(session: Session) -> None:
    partner = new_partner(session)
    earned = datetime(2024, 3, 1, 15, 0, tzinfo=WIB)  # 08:00 UTC
    earn(session, partner.id, 100, "a", now=earned, expires_in_days=10)
    [lot] = lots(session, partner.id)
    assert lot.expires_at == datetime(2024, 3, 11, 23, 59, 59, 999999, tzinfo=WIB)
    assert wib_date(lot.expires_at).isoformat() == "2024-03-11"
    # At 15:00 WIB on the last day (the old rule's expiry) the points are still there...
    for moment in (
        datetime(2024, 3, 11, 15, 0, tzinfo=WIB),
        datetime(2024, 3, 11, 23, 59, 59, 999999, tzinfo=WIB),
    ):
        assert ledger.expire_due_lots(session, moment) == []
        assert ledger.balance(session, partner.id, moment).available_points == 100
    # ...and gone from 00:00 WIB the next day.
    gone = datetime(2024, 3, 12, 0, 0, tzinfo=WIB)
    assert ledger.balance(session, partner.id, gone).available_points == 0
    expiry, _earned = ledger.history(session, partner.id, limit=10, offset=0, now=gone)[0]
    assert (expiry.reason, expiry.delta, expiry.created_at) == ("expiry", -100, gone)
    assert assert_ledger_consistent(session, partner.id) == 0


def test_expiring_views_count_whole_wib_days(session: Session) -> None:
    partner = new_partner(session)
    now = datetime(2024, 6, 1, 9, 0, tzinfo=WIB)
    # Earned 23:30 WIB: its last day is 30 days from today, whatever the time now.
    earn(session, partner.id, 40, "late", now=datetime(2024, 5, 31, 23, 30, tzinfo=WIB),
         expires_in_days=31)  # fmt: skip
    earn(session, partner.id, 60, "later", now=now, expires_in_days=31)
    view = ledger.balance(session, partner.id, now)
    assert view.expiring_soon_points == 40
    assert wib_date(view.expiring_soon_at).isoformat() == "2024-07-01"
    [lot] = ledger.expiring_lots(session, partner.id, 30, now)
    assert (lot.points, lot.expires_on.isoformat()) == (40, "2024-07-01")
    assert [x.points for x in ledger.expiring_lots(session, partner.id, 31, now)] == [40, 60]


# --- reserved idempotency keys ----------------------------------------------------------


def test_a_caller_key_in_the_expiry_namespace_cannot_block_expiry(session: Session) -> None:
    """The collision: a caller taking ``expiry:lot:<id>`` made every later read fail."""
    partner = new_partner(session)
    now = utcnow()
    earn(session, partner.id, 100, "old", now=now - timedelta(days=400))
    [lot] = lots(session, partner.id)
    with pytest.raises(ReservedIdempotencyKey, match="'expiry:'"):
        earn(session, partner.id, 5, f"expiry:lot:{lot.id}")
    with pytest.raises(ReservedIdempotencyKey):
        spend(session, partner.id, 5, f"expiry:lot:{lot.id}")
    # Reads and spends keep working, and the lot expired under its own key.
    assert ledger.balance(session, partner.id, now).available_points == 0
    earn(session, partner.id, 10, "fresh")
    assert spend(session, partner.id, 10, "use").created
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == f"expiry:lot:{lot.id}")
    ).one()
    assert (entry.reason, entry.delta) == ("expiry", -100)
    assert assert_ledger_consistent(session, partner.id) == 0


@pytest.mark.parametrize("prefix", RESERVED_KEY_PREFIXES)
def test_every_reserved_prefix_is_refused_to_callers(session: Session, prefix: str) -> None:
    partner = new_partner(session)
    for key in (f"{prefix}1", f"{prefix.upper()}1"):
        with pytest.raises(ReservedIdempotencyKey):
            earn(session, partner.id, 5, key)
        with pytest.raises(ReservedIdempotencyKey):
            spend(session, partner.id, 5, key)
    assert assert_ledger_consistent(session, partner.id) == 0


def test_the_rule_that_owns_a_namespace_may_write_in_it(session: Session) -> None:
    partner = new_partner(session)
    result = earn(session, partner.id, 50, "quiz:attempt-9", key_owner=KeyNamespace.QUIZ)
    assert result.created and result.entry.idempotency_key == "quiz:attempt-9"
    # ...only in its own namespace.
    with pytest.raises(ValueError, match="namespace"):
        earn(session, partner.id, 50, "claim:1", key_owner=KeyNamespace.QUIZ)
    assert assert_ledger_consistent(session, partner.id) == 50


def test_reserved_prefixes_cover_the_backends_own_keys() -> None:
    assert {"expiry:", "system:", "claim:", "quiz:", "redemption:", "refund:", "seed:"} <= set(
        RESERVED_KEY_PREFIXES
    )
    assert ledger.reserved_key_prefix("Expiry:lot:1") == "expiry:"
    assert ledger.reserved_key_prefix("adjust:expiry:lot:1") is None


# --- partner status ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(PartnerStatus.SUSPENDED, PartnerSuspended), (PartnerStatus.LEFT, PartnerLeft)],
)
def test_only_active_partners_earn_or_spend(
    session: Session, status: PartnerStatus, error: type[Exception]
) -> None:
    partner = new_partner(session)
    now = utcnow()
    first = earn(session, partner.id, 100, "before")
    earn(session, partner.id, 30, "old", now=now - timedelta(days=400))
    partners.set_status(session, partner.wa_id, status, actor="admin")
    with pytest.raises(error):
        earn(session, partner.id, 10, "after")
    with pytest.raises(error):
        spend(session, partner.id, 10, "after-spend")
    # A replay of what happened before answers as before; nothing new is written.
    assert earn(session, partner.id, 100, "before").entry.id == first.entry.id
    # Expiry is the ledger's own rule: it still applies.
    assert [e.delta for e in ledger.expire_due_lots(session, now)] == [-30]
    assert assert_ledger_consistent(session, partner.id) == 100
    partners.set_status(session, partner.wa_id, PartnerStatus.ACTIVE, actor="admin")
    assert spend(session, partner.id, 10, "after-spend").created
