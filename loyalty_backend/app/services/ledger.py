"""The points ledger: earn, spend, expire, and what a partner's points look like.

Rules (the part that must never be wrong):
- Points are integers. Every change is one append-only ``ledger_entry`` plus the cached
  ``points_account.balance``, written in the same transaction, with an audit row.
- Earning creates a lot that expires at the end of the WIB day ``EXPIRY_DAYS`` (or
  ``expires_in_days``) after the WIB date it was earned: earned 1 March 15:00 WIB with 365
  days, the points can be used all of 1 March next year and are gone from 2 March 00:00
  WIB. ``expires_at`` stores that day's last instant (23:59:59.999999 WIB), so its WIB date
  is the date partners are shown, and a lot is expired when ``expires_at < now``.
- Spending is one conditional statement, ``UPDATE points_account SET balance = balance - c
  WHERE partner_id = p AND balance >= c``: no read-then-write, so two spends can never
  both pass a check on the same balance. The spend then consumes lots, soonest-expiring
  first, and records what it took from each (``lot_consumption``).
- Expiry writes one ``expiry`` entry per lot remainder, keyed ``expiry:lot:<lot id>``.
  Due lots are also swept lazily when a partner's points are read or spent, so a
  balance never includes points that have already expired. The daily job
  (``expire_all_due``) isolates partners: one partner's failure is logged and retried on
  the next run, the others still expire.
- Only an active partner earns or spends (``PartnerSuspended``, ``PartnerLeft``
  otherwise, checked inside the write transaction); expiry applies whatever the status.
- A ``refund`` (points of a cancelled redemption given back, written only by
  app/services/redemptions.py in the ``refund:`` namespace) is a new lot like any earn,
  but it is written whatever the partner's status (the points were theirs already) and
  does not add to ``lifetime_earned`` (they were earned once, when first credited).
- Every earn/spend carries a UNIQUE idempotency key: a replay returns the first entry
  and changes nothing, also when the two requests race (the unique index decides).
- Lock order is always account row, then lots (no deadlocks on PostgreSQL). On SQLite,
  writers start with BEGIN IMMEDIATE and so run one at a time.

Reserved idempotency-key namespaces (``RESERVED_KEY_PREFIXES``, matched
case-insensitively): the backend writes keys in these namespaces for its own rules, so a
caller's key may not start with any of them (422 from the request schema, and
``ReservedIdempotencyKey`` from ``earn``/``spend`` themselves, so no path bypasses it).
Without this, a caller sending ``expiry:lot:7`` would take the key lot 7's expiry needs,
and once lot 7 fell due every read and spend of that partner would fail.

| prefix        | owner (the rule that writes it)                      |
|---------------|-------------------------------------------------------|
| ``expiry:``     | this module's expiry (``expiry:lot:<lot id>``)          |
| ``system:``     | any other backend job                                 |
| ``claim:``      | claim approval (claims service)                       |
| ``quiz:``       | quiz rewards                                          |
| ``redemption:`` | reward redemptions                                    |
| ``refund:``     | refunds of cancelled redemptions                      |
| ``referral:``   | referral bonuses                                      |
| ``welcome:``    | welcome bonuses                                       |
| ``campaign:``   | campaign bonuses                                      |
| ``seed:``       | the demo seed (app/initial_data.py)                   |

A backend rule passes ``key_owner=KeyNamespace.X`` and a key in that namespace; API
callers (admin adjustments) never pass ``key_owner``.

Invariants: balance == sum(delta) == sum(points_remaining of lots), balance >= 0.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_date, wib_end_of_day, wib_start_of_day
from app.core.config import settings
from app.core.db import in_write_transaction, write_transaction
from app.models import LedgerEntry, LotConsumption, Partner, PointsAccount, PointsLot
from app.models.enums import EARN_REASONS, SPEND_REASONS, LedgerReason, PartnerStatus
from app.services import audit, notifications
from app.services.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    LedgerInvariantBroken,
    PartnerLeft,
    PartnerNotFound,
    PartnerSuspended,
    ReservedIdempotencyKey,
)

log = logging.getLogger("app.services.ledger")

EXPIRY_ACTOR = "system:expiry"
# How a partner's notice names an admin's correction that adds points.
ADJUSTMENT_SOURCE = {
    "id": "Koreksi poin oleh tim Mitra",
    "en": "A points correction by the Mitra team",
}


class KeyNamespace(StrEnum):
    """Idempotency-key prefixes the backend keeps for its own rules (module docstring)."""

    EXPIRY = "expiry:"
    SYSTEM = "system:"
    CLAIM = "claim:"
    QUIZ = "quiz:"
    REDEMPTION = "redemption:"
    REFUND = "refund:"
    REFERRAL = "referral:"
    WELCOME = "welcome:"
    CAMPAIGN = "campaign:"
    SEED = "seed:"


RESERVED_KEY_PREFIXES = tuple(namespace.value for namespace in KeyNamespace)


def reserved_key_prefix(key: str) -> str | None:
    """The reserved prefix ``key`` starts with (case-insensitive), or None."""
    lowered = key.lower()
    return next((p for p in RESERVED_KEY_PREFIXES if lowered.startswith(p)), None)


def check_idempotency_key(key: str, key_owner: KeyNamespace | None = None) -> None:
    """Refuse a key in a reserved namespace unless the rule that owns it is writing."""
    if key_owner is not None:
        if not key.startswith(key_owner.value):
            raise ValueError(f"a {key_owner.value!r} rule must use keys in its namespace")
        return
    prefix = reserved_key_prefix(key)
    if prefix is not None:
        raise ReservedIdempotencyKey(
            f"idempotency keys starting {prefix!r} are reserved for the backend"
        )


def lot_expires_at(earned_at: datetime, days: int) -> datetime:
    """End of the WIB day ``days`` after the WIB date of ``earned_at`` (last instant)."""
    return wib_end_of_day(wib_date(earned_at) + timedelta(days=days))


def window_end(now: datetime, days: int) -> datetime:
    """Last instant of the WIB day ``days`` after today: "expiring within N days"."""
    return wib_end_of_day(wib_date(now) + timedelta(days=days))


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
    expires_at: datetime  # the last instant the points can be used
    earned_at: datetime
    reason: str

    @property
    def expires_on(self) -> date:
        """The WIB date partners are shown: the last day the points can be used."""
        return wib_date(self.expires_at)


@dataclass(frozen=True)
class ExpiryRun:
    """What the daily expiry did. Plain numbers: a later partner's rollback expires the
    ORM objects of earlier ones, so none are handed out."""

    entries: int  # expiry entries written
    points: int  # points expired
    failed_partner_ids: list[int]  # rolled back and logged; the next run retries them


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
    key_owner: KeyNamespace | None = None,
    on_credit: Callable[[LedgerEntry], None] | None = None,
) -> LedgerResult:
    """Credit ``points`` to an active partner and open a lot that expires later.

    Raises ReservedIdempotencyKey for a caller's key in a reserved namespace, and
    PartnerSuspended / PartnerLeft unless the partner is active (a replay of an earlier
    request still answers with its entry; a ``refund`` is written whatever the status).
    ``on_credit`` runs with the new entry inside the same transaction (never on a replay):
    e.g. the partner's notice of the credit.
    """
    check_idempotency_key(idempotency_key, key_owner)
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
        refund = reason == LedgerReason.REFUND
        if not refund:
            _require_active(session, partner_id)
        balance_after = _credit(session, partner_id, points, now, lifetime=not refund)
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
                expires_at=lot_expires_at(now, days),
            )
        )
        _audit_entry(session, entry, actor, "points.earn", expires_in_days=days)
        if on_credit is not None:
            on_credit(entry)
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
    key_owner: KeyNamespace | None = None,
    caller_checked: bool = False,
) -> LedgerResult:
    """Debit ``points`` if the balance covers them, else raise InsufficientPoints.

    Lots are consumed soonest-expiring first (then oldest lot first), so what remains
    is always the points that expire last. Same key and status rules as ``earn``.

    ``caller_checked``: a backend rule that, in this same writer transaction, has already
    locked the partner's account row, seen the partner active, and made the key new (it
    derives from a row it just inserted) skips those two reads; the key's UNIQUE index
    still refuses a second entry.
    """
    check_idempotency_key(idempotency_key, key_owner)
    if points <= 0:
        raise ValueError("points must be positive")
    if reason not in SPEND_REASONS:
        raise ValueError(f"reason {reason!r} cannot take points")
    if caller_checked and not in_write_transaction(session):
        raise RuntimeError("caller_checked needs the caller's writer transaction")
    now = now or utcnow()
    request = _Request(partner_id, -points, reason, reference_type, reference_id)

    def apply() -> LedgerResult:
        if not caller_checked:
            existing = _entry_by_key(session, idempotency_key)
            if existing is not None:
                return _replay(existing, request)
            _require_active(session, partner_id)
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


def adjust(
    session: Session,
    *,
    partner_id: int,
    points: int,
    note: str,
    idempotency_key: str,
    actor: str,
    now: datetime | None = None,
) -> LedgerResult:
    """An admin correction: ``points`` > 0 earns, < 0 spends (InsufficientPoints when the
    balance does not cover it), reason ``adjustment``, the note as the description (so
    the entry's audit row carries it). A replayed key answers with the first entry.
    Points added are told to the partner (``points_credited``, same transaction)."""
    if points == 0:
        raise ValueError("an adjustment moves at least one point")

    def tell_partner(entry: LedgerEntry) -> None:
        partner = session.get(Partner, partner_id)
        assert partner is not None
        notifications.notify_credit(
            session, partner, entry, ADJUSTMENT_SOURCE, group_key=None, now=entry.created_at
        )

    common: dict[str, Any] = {
        "partner_id": partner_id,
        "points": abs(points),
        "reason": LedgerReason.ADJUSTMENT.value,
        "reference_type": "adjustment",
        "reference_id": actor[:64],
        "idempotency_key": idempotency_key,
        "description": note[:200],
        "now": now,
        "actor": actor,
    }
    if points > 0:
        return earn(session, on_credit=tell_partner, **common)
    return spend(session, **common)


def expire_due_lots(
    session: Session,
    now: datetime | None = None,
    *,
    partner_id: int | None = None,
    actor: str = EXPIRY_ACTOR,
) -> list[LedgerEntry]:
    """Expire every lot whose ``expires_at`` is before ``now`` and that still has points.

    Writes one ``expiry`` entry per lot (key ``expiry:lot:<id>``), one transaction per
    partner. Safe to run concurrently and repeatedly: a lot that is already empty is
    skipped. Returns the entries written; a failure is raised (a read must not show
    points that should have expired). The daily job uses ``expire_all_due`` instead.
    """
    now = now or utcnow()
    written: list[LedgerEntry] = []
    for pid in _partners_with_due_lots(session, now, partner_id):
        with write_transaction(session):
            written.extend(_expire_partner_lots(session, pid, now, actor))
    return written


def expire_all_due(
    session: Session, now: datetime | None = None, *, actor: str = EXPIRY_ACTOR
) -> ExpiryRun:
    """The daily job: expire due lots of every partner, isolating failures per partner.

    A partner whose expiry fails is rolled back, logged with its id and skipped (the
    next run retries it); the others still expire.
    """
    if in_write_transaction(session):
        raise RuntimeError("expire_all_due runs its own transactions; call it outside one")
    now = now or utcnow()
    entries = points = 0
    failed: list[int] = []
    for pid in _partners_with_due_lots(session, now):
        try:
            with write_transaction(session):
                written = _expire_partner_lots(session, pid, now, actor)
                expired = -sum(entry.delta for entry in written)
        except Exception:
            log.exception("expiry failed for a partner", extra={"partner_id": pid})
            failed.append(pid)
            continue
        entries += len(written)
        points += expired
    return ExpiryRun(entries, points, failed)


def _partners_with_due_lots(
    session: Session, now: datetime, partner_id: int | None = None
) -> list[int]:
    query = select(PointsLot.partner_id).where(
        PointsLot.points_remaining > 0, PointsLot.expires_at < now
    )
    if partner_id is not None:
        query = query.where(PointsLot.partner_id == partner_id)
    return sorted(set(session.scalars(query)))


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
            PointsLot.expires_at <= window_end(now, settings.EXPIRING_SOON_DAYS),
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
    """Lots with points left whose last day is at most ``within_days`` WIB days away."""
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
            PointsLot.expires_at <= window_end(now, within_days),
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


def _require_active(session: Session, partner_id: int) -> None:
    status = session.scalar(select(Partner.status).where(Partner.id == partner_id))
    if status is None:
        raise PartnerNotFound()
    if status == PartnerStatus.SUSPENDED:
        raise PartnerSuspended()
    if status == PartnerStatus.LEFT:
        raise PartnerLeft()


def _entry_by_key(session: Session, key: str) -> LedgerEntry | None:
    return session.scalars(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == key)
    ).one_or_none()


def _replay(entry: LedgerEntry, request: _Request) -> LedgerResult:
    if not request.matches(entry):
        raise IdempotencyConflict()
    return LedgerResult(entry, created=False)


def _credit(
    session: Session, partner_id: int, points: int, now: datetime, *, lifetime: bool = True
) -> int:
    stmt = (
        update(PointsAccount)
        .where(PointsAccount.partner_id == partner_id)
        .values(
            balance=PointsAccount.balance + points,
            lifetime_earned=PointsAccount.lifetime_earned + (points if lifetime else 0),
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
            PointsLot.expires_at < now,
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
    lots = session.scalars(_lots_with_points(partner_id).where(PointsLot.expires_at < now))
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
            "description": entry.description,
            "idempotency_key": entry.idempotency_key,
            **extra,
        },
        now=entry.created_at,
    )
