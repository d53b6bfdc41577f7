"""The points ledger: earn, spend, expire, and what a partner's points look like.

Rules (the part that must never be wrong):
- Points are integers. Every change is one append-only ``ledger_entry`` plus the cached
  ``points_account.balance``, written in the same transaction, with an audit row.
- Earning creates a lot that expires ``EXPIRY_DAYS`` (or ``expires_in_days``) later.
- Spending is one conditional statement, ``UPDATE points_account SET balance = balance - c
  WHERE partner_id = p AND balance >= c``: no read-then-write, so two spends can never
  both pass a check on the same balance. The spend then consumes lots, soonest-expiring
  first, and records what it took from each (``lot_consumption``).
- Expiry writes one ``expiry`` entry per lot remainder, keyed ``expiry:lot:<lot id>``.
  Due lots are also swept lazily when a partner's points are read or spent, so a
  balance never includes points that have already expired.
- Every earn/spend carries a UNIQUE idempotency key: a replay returns the first entry
  and changes nothing, also when the two requests race (the unique index decides).
- Lock order is always account row, then lots (no deadlocks on PostgreSQL). On SQLite,
  writers start with BEGIN IMMEDIATE and so run one at a time.

Invariants: balance == sum(delta) == sum(points_remaining of lots), balance >= 0.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_date, wib_start_of_day
from app.core.config import settings
from app.core.db import in_write_transaction, write_transaction
from app.models import LedgerEntry, LotConsumption, PointsAccount, PointsLot
from app.models.enums import EARN_REASONS, SPEND_REASONS, LedgerReason
from app.services import audit
from app.services.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    LedgerInvariantBroken,
)

EXPIRY_ACTOR = "system:expiry"


@dataclass(frozen=True)
class LedgerResult:
    entry: LedgerEntry
    created: bool  # False: an idempotent replay answered with the first entry


@dataclass(frozen=True)
class BalanceView:
    available_points: int
    lifetime_earned: int
    expiring_soon_points: int
    expiring_soon_at: datetime | None  # the soonest expiry among those points
    as_of: datetime


@dataclass(frozen=True)
class ExpiringLot:
    points: int
    expires_at: datetime
    earned_at: datetime
    reason: str


@dataclass(frozen=True)
class _Request:
    """What an idempotency key stands for; a replay must ask for the same thing."""

    partner_id: int
    delta: int
    reason: str
    reference_type: str
    reference_id: str

    def matches(self, entry: LedgerEntry) -> bool:
        return (
            entry.partner_id == self.partner_id
            and entry.delta == self.delta
            and entry.reason == self.reason
            and entry.reference_type == self.reference_type
            and entry.reference_id == self.reference_id
        )


# --- writes ------------------------------------------------------------------------


def earn(
    session: Session,
    *,
    partner_id: int,
    points: int,
    reason: str,
    reference_type: str,
    reference_id: str,
    idempotency_key: str,
    description: str = "",
    expires_in_days: int | None = None,
    now: datetime | None = None,
    actor: str = "service",
) -> LedgerResult:
    """Credit ``points`` to the partner and open a lot that expires later."""
    if points <= 0:
        raise ValueError("points must be positive")
    if reason not in EARN_REASONS:
        raise ValueError(f"reason {reason!r} cannot add points")
    now = now or utcnow()
    days = settings.EXPIRY_DAYS if expires_in_days is None else expires_in_days
    if days <= 0:
        raise ValueError("expires_in_days must be positive")
    request = _Request(partner_id, points, reason, reference_type, reference_id)

    def apply() -> LedgerResult:
        existing = _entry_by_key(session, idempotency_key)
        if existing is not None:
            return _replay(existing, request)
        balance_after = _credit(session, partner_id, points, now)
        entry = LedgerEntry(
            partner_id=partner_id,
            delta=points,
            reason=reason,
            reference_type=reference_type,
            reference_id=reference_id,
            description=description,
            idempotency_key=idempotency_key,
            balance_after=balance_after,
            created_at=now,
        )
        session.add(entry)
        session.flush()  # the unique idempotency key is checked here
        session.add(
            PointsLot(
                ledger_entry_id=entry.id,
                partner_id=partner_id,
                points_earned=points,
                points_remaining=points,
                earned_at=now,
                expires_at=now + timedelta(days=days),
            )
        )
        _audit_entry(session, entry, actor, "points.earn", expires_in_days=days)
        return LedgerResult(entry, created=True)

    return _run_idempotent(session, idempotency_key, request, apply)


def spend(
    session: Session,
    *,
    partner_id: int,
    points: int,
    reason: str,
    reference_type: str,
    reference_id: str,
    idempotency_key: str,
    description: str = "",
    now: datetime | None = None,
    actor: str = "service",
) -> LedgerResult:
    """Debit ``points`` if the balance covers them, else raise InsufficientPoints.

    Lots are consumed soonest-expiring first (then oldest lot first), so what remains
    is always the points that expire last.
    """
    if points <= 0:
        raise ValueError("points must be positive")
    if reason not in SPEND_REASONS:
        raise ValueError(f"reason {reason!r} cannot take points")
    now = now or utcnow()
    request = _Request(partner_id, -points, reason, reference_type, reference_id)

    def apply() -> LedgerResult:
        existing = _entry_by_key(session, idempotency_key)
        if existing is not None:
            return _replay(existing, request)
        # Points already past their expiry are not spendable: sweep them first.
        _expire_partner_lots(session, partner_id, now, EXPIRY_ACTOR)
        balance_after = session.execute(
            update(PointsAccount)
            .where(PointsAccount.partner_id == partner_id, PointsAccount.balance >= points)
            .values(balance=PointsAccount.balance - points, updated_at=now)
            .returning(PointsAccount.balance)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if balance_after is None:  # no row matched: the balance does not cover it
            raise InsufficientPoints()
        entry = LedgerEntry(
            partner_id=partner_id,
            delta=-points,
            reason=reason,
            reference_type=reference_type,
            reference_id=reference_id,
            description=description,
            idempotency_key=idempotency_key,
            balance_after=balance_after,
            created_at=now,
        )
        session.add(entry)
        session.flush()
        _consume_lots(session, partner_id, entry.id, points, now)
        _audit_entry(session, entry, actor, "points.spend")
        return LedgerResult(entry, created=True)

    return _run_idempotent(session, idempotency_key, request, apply)


def expire_due_lots(
    session: Session,
    now: datetime | None = None,
    *,
    partner_id: int | None = None,
    actor: str = EXPIRY_ACTOR,
) -> list[LedgerEntry]:
    """Expire every lot whose ``expires_at`` <= ``now`` and that still has points.

    Writes one ``expiry`` entry per lot (key ``expiry:lot:<id>``), one transaction per
    partner. Safe to run concurrently and repeatedly: a lot that is already empty is
    skipped. Returns the entries written.
    """
    now = now or utcnow()
    query = select(PointsLot.partner_id).where(
        PointsLot.points_remaining > 0, PointsLot.expires_at <= now
    )
    if partner_id is not None:
        query = query.where(PointsLot.partner_id == partner_id)
    partner_ids = sorted(set(session.scalars(query)))
    if not partner_ids:
        return []
    written: list[LedgerEntry] = []
    for pid in partner_ids:
        with write_transaction(session):
            written.extend(_expire_partner_lots(session, pid, now, actor))
    return written


# --- reads -------------------------------------------------------------------------


def balance(session: Session, partner_id: int, now: datetime | None = None) -> BalanceView:
    """Available points (after sweeping expired lots) and what expires soon."""
    now = now or utcnow()
    expire_due_lots(session, now, partner_id=partner_id)
    row = session.execute(
        select(PointsAccount.balance, PointsAccount.lifetime_earned).where(
            PointsAccount.partner_id == partner_id
        )
    ).one_or_none()
    available, lifetime = (row.balance, row.lifetime_earned) if row else (0, 0)
    soon_points, soon_at = session.execute(
        select(
            func.coalesce(func.sum(PointsLot.points_remaining), 0), func.min(PointsLot.expires_at)
        ).where(
            PointsLot.partner_id == partner_id,
            PointsLot.points_remaining > 0,
            PointsLot.expires_at <= now + timedelta(days=settings.EXPIRING_SOON_DAYS),
        )
    ).one()
    return BalanceView(
        available_points=available,
        lifetime_earned=lifetime,
        expiring_soon_points=int(soon_points),
        expiring_soon_at=soon_at,
        as_of=now,
    )


def expiring_lots(
    session: Session, partner_id: int, within_days: int, now: datetime | None = None
) -> list[ExpiringLot]:
    """Lots with points left that expire within ``within_days``, soonest first."""
    now = now or utcnow()
    expire_due_lots(session, now, partner_id=partner_id)
    rows = session.execute(
        select(
            PointsLot.points_remaining,
            PointsLot.expires_at,
            PointsLot.earned_at,
            LedgerEntry.reason,
        )
        .join(LedgerEntry, LedgerEntry.id == PointsLot.ledger_entry_id)
        .where(
            PointsLot.partner_id == partner_id,
            PointsLot.points_remaining > 0,
            PointsLot.expires_at <= now + timedelta(days=within_days),
        )
        .order_by(PointsLot.expires_at, PointsLot.id)
    ).all()
    return [ExpiringLot(r[0], r[1], r[2], r[3]) for r in rows]


def history(
    session: Session,
    partner_id: int,
    *,
    limit: int,
    offset: int,
    since: date | None = None,
    now: datetime | None = None,
) -> tuple[list[LedgerEntry], int]:
    """Entries newest first, and how many there are in all. ``since`` is a WIB date."""
    expire_due_lots(session, now or utcnow(), partner_id=partner_id)
    where = [LedgerEntry.partner_id == partner_id]
    if since is not None:
        where.append(LedgerEntry.created_at >= wib_start_of_day(since))
    total = session.scalar(select(func.count()).select_from(LedgerEntry).where(*where)) or 0
    items = session.scalars(
        select(LedgerEntry)
        .where(*where)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(items), total


# --- internals ---------------------------------------------------------------------


def _run_idempotent(
    session: Session, key: str, request: _Request, apply: Callable[[], LedgerResult]
) -> LedgerResult:
    nested = in_write_transaction(session)
    try:
        with write_transaction(session):
            return apply()
    except (IntegrityError, InsufficientPoints):
        if nested:
            raise
        # A concurrent request with the same key may have committed first: the unique
        # index made ours fail (or its spend emptied the balance). Answer with its entry.
        existing = _entry_by_key(session, key)
        session.commit()  # end the read; keeps loaded objects usable
        if existing is None:
            raise
        return _replay(existing, request)


def _entry_by_key(session: Session, key: str) -> LedgerEntry | None:
    return session.scalars(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == key)
    ).one_or_none()


def _replay(entry: LedgerEntry, request: _Request) -> LedgerResult:
    if not request.matches(entry):
        raise IdempotencyConflict()
    return LedgerResult(entry, created=False)


def _credit(session: Session, partner_id: int, points: int, now: datetime) -> int:
    stmt = (
        update(PointsAccount)
        .where(PointsAccount.partner_id == partner_id)
        .values(
            balance=PointsAccount.balance + points,
            lifetime_earned=PointsAccount.lifetime_earned + points,
            updated_at=now,
        )
        .returning(PointsAccount.balance)
        .execution_options(synchronize_session=False)
    )
    balance_after = session.execute(stmt).scalar_one_or_none()
    if balance_after is None:
        ensure_account(session, partner_id, now)
        balance_after = session.execute(stmt).scalar_one()
    return balance_after


def ensure_account(session: Session, partner_id: int, now: datetime | None = None) -> None:
    """Create the partner's points account if it does not exist (race-safe upsert)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(PointsAccount)
        .values(partner_id=partner_id, balance=0, lifetime_earned=0, updated_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["partner_id"])
    )


def _lots_with_points(partner_id: int) -> Select[tuple[PointsLot]]:
    return (
        select(PointsLot)
        .where(PointsLot.partner_id == partner_id, PointsLot.points_remaining > 0)
        .order_by(PointsLot.expires_at, PointsLot.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _consume_lots(
    session: Session, partner_id: int, entry_id: int, points: int, now: datetime
) -> None:
    need = points
    for lot in session.scalars(_lots_with_points(partner_id)):
        take = min(need, lot.points_remaining)
        lot.points_remaining -= take
        session.add(
            LotConsumption(lot_id=lot.id, ledger_entry_id=entry_id, points=take, created_at=now)
        )
        need -= take
        if need == 0:
            break
    if need:
        raise LedgerInvariantBroken(f"lots of partner {partner_id} short by {need} points")
    session.flush()


def _expire_partner_lots(
    session: Session, partner_id: int, now: datetime, actor: str
) -> list[LedgerEntry]:
    """Expire the partner's due lots inside the caller's writer transaction."""
    due = session.scalar(
        select(func.count())
        .select_from(PointsLot)
        .where(
            PointsLot.partner_id == partner_id,
            PointsLot.points_remaining > 0,
            PointsLot.expires_at <= now,
        )
    )
    if not due:
        return []
    # Account first, then lots: the same lock order as spend, so no deadlock.
    session.execute(
        select(PointsAccount.partner_id)
        .where(PointsAccount.partner_id == partner_id)
        .with_for_update()
    )
    lots = session.scalars(_lots_with_points(partner_id).where(PointsLot.expires_at <= now))
    written: list[LedgerEntry] = []
    for lot in list(lots):
        amount = lot.points_remaining
        balance_after = session.execute(
            update(PointsAccount)
            .where(PointsAccount.partner_id == partner_id, PointsAccount.balance >= amount)
            .values(balance=PointsAccount.balance - amount, updated_at=now)
            .returning(PointsAccount.balance)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if balance_after is None:
            raise LedgerInvariantBroken(f"balance of partner {partner_id} below its lots")
        entry = LedgerEntry(
            partner_id=partner_id,
            delta=-amount,
            reason=LedgerReason.EXPIRY.value,
            reference_type="points_lot",
            reference_id=str(lot.id),
            description=f"{amount} points earned {wib_date(lot.earned_at).isoformat()} expired",
            idempotency_key=f"expiry:lot:{lot.id}",
            balance_after=balance_after,
            created_at=now,
        )
        session.add(entry)
        session.flush()
        lot.points_remaining = 0
        session.add(
            LotConsumption(lot_id=lot.id, ledger_entry_id=entry.id, points=amount, created_at=now)
        )
        _audit_entry(session, entry, actor, "points.expire", lot_id=lot.id)
        written.append(entry)
    session.flush()
    return written


def _audit_entry(
    session: Session, entry: LedgerEntry, actor: str, action: str, **extra: object
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="ledger_entry",
        entity_id=entry.id,
        details={
            "partner_id": entry.partner_id,
            "delta": entry.delta,
            "balance_after": entry.balance_after,
            "reason": entry.reason,
            "reference_type": entry.reference_type,
            "reference_id": entry.reference_id,
            "idempotency_key": entry.idempotency_key,
            **extra,
        },
        now=entry.created_at,
    )
