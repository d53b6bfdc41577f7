"""Hand-off to a person (issue 20): the record's life and who may change it.

``waiting`` -> ``active`` (one agent claimed it) -> ``closed`` (handed back to the bot);
``waiting`` -> ``cancelled`` (the partner went back to the bot). A partner has at most one
open (waiting/active) hand-off; the database enforces it (a partial unique index), and
a request that loses that race is retried once and finds the winner's.

Changes that must reach Rasa (claim: ``pause``; hand-back: ``resume`` + the
``EXTERNAL_handback`` intent) take a ``notify`` callable that runs AFTER the guarded
UPDATE committed, never inside a transaction: a hand-back runs a whole Rasa turn, whose
actions may call this backend, so holding a lock (SQLite's one writer, a PostgreSQL row)
across it could wait on itself. If Rasa refuses or is down, ``notify`` raises and a
second guarded UPDATE undoes the change (only if it is still ours), so the state stays
as it was. The guarded UPDATE (``... WHERE status = 'waiting'``) is also what makes two
agents claiming at once end with exactly one winner: on PostgreSQL the second UPDATE
waits for the first transaction and then matches no row; SQLite serialises writers.

The no-agent notice: ``mark_due_timeouts`` marks each waiting hand-off nobody claimed
within the timeout (once per waiting period: ``UPDATE ... WHERE timeout_notified_at IS
NULL``); the caller tells Rasa and ``unmark_timeout`` undoes the mark when Rasa could not
be told, so the next round tries again. The partner's "keep waiting" starts a new
waiting period (``waiting_since`` = now, mark cleared).
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import in_write_transaction, write_transaction
from app.core.logging import mask_wa_id
from app.models import ConsoleUser, Handoff, Partner
from app.models.console_user import ConsoleRole
from app.models.handoff import OPEN_STATUSES, HandoffReason, HandoffStatus
from app.services import audit, support_hours
from app.services.errors import DomainError, IdempotencyConflict

log = logging.getLogger("app.handoffs")

MAX_MESSAGE_CHARS = 4096  # WhatsApp's limit for a text message
ENTITY = "handoff"
_OPEN = [status.value for status in OPEN_STATUSES]


class HandoffError(DomainError):
    """A hand-off refusal; the API answers ``status_code`` with ``{"detail"}``."""

    status_code = 409


class HandoffNotFound(HandoffError):
    detail = "hand-off not found"
    status_code = 404


class NoOpenHandoff(HandoffNotFound):
    detail = "this partner has no open hand-off"


class HandoffConflict(HandoffError):
    detail = "the hand-off cannot change that way now"
    status_code = 409


class InvalidMessage(HandoffError):
    detail = "invalid message"
    status_code = 422


@dataclass(frozen=True)
class RequestResult:
    handoff: Handoff
    created: bool  # False: the partner's open hand-off, or a replay of the key


Notify = Callable[[Handoff], None]


def _open_for_partner(session: Session, partner_id: int, *, lock: bool = False) -> Handoff | None:
    query = select(Handoff).where(Handoff.partner_id == partner_id, Handoff.status.in_(_OPEN))
    if lock:
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one_or_none()


def open_for_partners(session: Session, partner_ids: Iterable[int]) -> set[int]:
    """Which of these partners are in a hand-off (waiting for or talking to an agent)."""
    ids = sorted(set(partner_ids))
    if not ids:
        return set()
    query = select(Handoff.partner_id).where(
        Handoff.partner_id.in_(ids), Handoff.status.in_(_OPEN)
    )
    return set(session.scalars(query))


def request(
    session: Session,
    partner: Partner,
    *,
    reason: HandoffReason,
    idempotency_key: str,
    last_message: str | None = None,
    now: datetime | None = None,
    actor: str = "service",
) -> RequestResult:
    """Open a hand-off for the partner, or give back the one already open (or the key's).

    Raises IdempotencyConflict when the key belongs to another partner's hand-off.
    """
    if in_write_transaction(session):
        raise RuntimeError("handoffs.request runs its own transaction")
    now = now or utcnow()
    partner_id, wa_id = partner.id, partner.wa_id
    for attempt_no in (1, 2):
        try:
            with write_transaction(session):
                return _request(
                    session, partner_id, wa_id, reason, idempotency_key, last_message, now, actor
                )
        except IntegrityError:
            # A racing request for this partner (or with this key) committed first.
            if attempt_no == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _request(
    session: Session,
    partner_id: int,
    wa_id: str,
    reason: HandoffReason,
    key: str,
    last_message: str | None,
    now: datetime,
    actor: str,
) -> RequestResult:
    replay = session.scalars(
        select(Handoff)
        .where(Handoff.idempotency_key == key)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if replay is not None:
        if replay.partner_id != partner_id:
            raise IdempotencyConflict()
        return RequestResult(replay, created=False)
    current = _open_for_partner(session, partner_id, lock=True)
    if current is not None:
        return RequestResult(current, created=False)
    handoff = Handoff(
        partner_id=partner_id,
        wa_id=wa_id,
        status=HandoffStatus.WAITING.value,
        reason=reason.value,
        idempotency_key=key,
        last_message=(last_message or None) and last_message[:MAX_MESSAGE_CHARS],
        requested_at=now,
        waiting_since=now,
    )
    session.add(handoff)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="handoff.requested",
        entity=ENTITY,
        entity_id=handoff.id,
        details={"reason": reason.value, "partner_id": partner_id},
        now=now,
    )
    log.info(
        "hand-off requested",
        extra={"handoff_id": handoff.id, "wa_id": mask_wa_id(wa_id), "reason": reason.value},
    )
    return RequestResult(handoff, created=True)


def keep_waiting(
    session: Session, partner: Partner, *, now: datetime | None = None, actor: str = "service"
) -> Handoff:
    """The partner keeps waiting after the no-agent notice: a new waiting period starts
    (a claimed hand-off is returned unchanged). NoOpenHandoff when none is open."""
    now = now or utcnow()
    partner_id = partner.id
    with write_transaction(session):
        handoff = _open_for_partner(session, partner_id, lock=True)
        if handoff is None:
            raise NoOpenHandoff()
        if handoff.status == HandoffStatus.WAITING:
            handoff.waiting_since = now
            handoff.timeout_notified_at = None
            audit.record(
                session,
                actor=actor,
                action="handoff.keep_waiting",
                entity=ENTITY,
                entity_id=handoff.id,
                now=now,
            )
    return handoff


def cancel(
    session: Session, partner: Partner, *, now: datetime | None = None, actor: str = "service"
) -> Handoff:
    """The partner goes back to the bot while nobody has claimed the hand-off.

    NoOpenHandoff when none is open; HandoffConflict when an agent already took it.
    """
    now = now or utcnow()
    partner_id = partner.id
    with write_transaction(session):
        handoff = _open_for_partner(session, partner_id, lock=True)
        if handoff is None:
            raise NoOpenHandoff()
        if handoff.status != HandoffStatus.WAITING:
            raise HandoffConflict("an agent has already taken this chat")
        handoff.status = HandoffStatus.CANCELLED.value
        handoff.closed_at = now
        handoff.closed_by = "partner"
        audit.record(
            session, actor=actor, action="handoff.cancelled", entity=ENTITY, entity_id=handoff.id,
            now=now,
        )  # fmt: skip
    return handoff


# --- the console ------------------------------------------------------------------------


def get(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id, populate_existing=True)
    if handoff is None:
        raise HandoffNotFound()
    return handoff


def open_queue(session: Session) -> list[tuple[Handoff, Partner, ConsoleUser | None]]:
    """Open hand-offs, oldest request first, with their partner and agent."""
    rows = session.execute(
        select(Handoff, Partner, ConsoleUser)
        .join(Partner, Partner.id == Handoff.partner_id)
        .outerjoin(ConsoleUser, ConsoleUser.id == Handoff.claimed_by)
        .where(Handoff.status.in_(_OPEN))
        .order_by(Handoff.requested_at, Handoff.id)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def _refusal(handoff: Handoff, user: ConsoleUser) -> HandoffConflict:
    if handoff.status == HandoffStatus.ACTIVE and handoff.claimed_by != user.id:
        return HandoffConflict("this chat is already claimed by another agent")
    if handoff.status == HandoffStatus.WAITING:
        return HandoffConflict("claim this chat first")
    return HandoffConflict(f"this chat is {handoff.status}")


def claim(
    session: Session,
    handoff_id: int,
    user: ConsoleUser,
    *,
    notify: Notify,
    now: datetime | None = None,
) -> Handoff:
    """The agent takes a waiting hand-off; ``notify`` pauses the bot (see the module doc).

    Claiming one's own active hand-off again is a no-op. HandoffNotFound, or
    HandoffConflict when another agent has it or it is over.
    """
    now = now or utcnow()
    with write_transaction(session):
        won = session.execute(
            update(Handoff)
            .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.WAITING.value)
            .values(status=HandoffStatus.ACTIVE.value, claimed_by=user.id, claimed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        handoff = get(session, handoff_id)
        if not won:
            if handoff.status == HandoffStatus.ACTIVE and handoff.claimed_by == user.id:
                return handoff
            raise _refusal(handoff, user)
    try:
        notify(handoff)
    except Exception:
        _undo(session, handoff_id, Handoff.claimed_by == user.id,
              status=HandoffStatus.WAITING.value, claimed_by=None, claimed_at=None)
        raise
    waited = int((now - handoff.requested_at).total_seconds())
    _audit_console(session, user, "handoff.claimed", handoff.id, now,
                   details={"waited_seconds": waited})
    log.info("hand-off claimed", extra={"handoff_id": handoff.id, "console_user": user.id})
    return get(session, handoff_id)


def _undo(session: Session, handoff_id: int, still_ours: Any, **values: Any) -> None:
    """Put back what a change set before Rasa refused it (only if nobody changed it since)."""
    with write_transaction(session):
        session.execute(
            update(Handoff)
            .where(Handoff.id == handoff_id, still_ours)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    session.expire_all()


def ensure_may_write(handoff: Handoff, user: ConsoleUser) -> None:
    """Only the agent who claimed an active hand-off (or an admin) may answer or hand back."""
    if handoff.status != HandoffStatus.ACTIVE:
        raise _refusal(handoff, user)
    if handoff.claimed_by != user.id and user.role != ConsoleRole.ADMIN:
        raise _refusal(handoff, user)


def check_message(text: str) -> str:
    """The reply as it will be sent: not blank, at most MAX_MESSAGE_CHARS characters."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidMessage("the message is empty")
    if len(cleaned) > MAX_MESSAGE_CHARS:
        raise InvalidMessage(f"the message is longer than {MAX_MESSAGE_CHARS:,} characters")
    return cleaned


def record_reply(
    session: Session, handoff: Handoff, user: ConsoleUser, text: str, *, now: datetime
) -> None:
    """Audit an agent's reply that Rasa accepted (the text itself lives in the tracker)."""
    _audit_console(session, user, "handoff.message_sent", handoff.id, now,
                   details={"chars": len(text)})


def hand_back(
    session: Session,
    handoff_id: int,
    user: ConsoleUser,
    *,
    notify: Notify,
    now: datetime | None = None,
) -> Handoff:
    """Close an active hand-off; ``notify`` resumes the bot and triggers EXTERNAL_handback.
    Re-opened if Rasa refused (see the module doc)."""
    now = now or utcnow()
    with write_transaction(session):
        handoff = get(session, handoff_id)
        ensure_may_write(handoff, user)
        closed = session.execute(
            update(Handoff)
            .where(
                Handoff.id == handoff_id,
                Handoff.status == HandoffStatus.ACTIVE.value,
                Handoff.claimed_by == handoff.claimed_by,
            )
            .values(
                status=HandoffStatus.CLOSED.value, closed_at=now, closed_by=f"console:{user.id}"
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        handoff = get(session, handoff_id)
        if not closed:
            raise _refusal(handoff, user)
        claimed_by = handoff.claimed_by
    try:
        notify(handoff)
    except Exception:
        _undo(session, handoff_id, Handoff.closed_at == now,
              status=HandoffStatus.ACTIVE.value, closed_at=None, closed_by=None,
              claimed_by=claimed_by)
        raise
    _audit_console(session, user, "handoff.handed_back", handoff.id, now)
    log.info("hand-off handed back", extra={"handoff_id": handoff.id, "console_user": user.id})
    return get(session, handoff_id)


def _audit_console(
    session: Session, user: ConsoleUser, action: str, handoff_id: int, now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """One agent action on a hand-off, in the audit log (actor ``console:<user id>``)."""
    with write_transaction(session):
        audit.record(session, actor=f"console:{user.id}", action=action, entity=ENTITY,
                     entity_id=handoff_id, details=details or {}, now=now)


def audit_view(session: Session, handoff: Handoff, user: ConsoleUser, *, now: datetime) -> None:
    """An agent opened a chat (partner data was shown)."""
    _audit_console(session, user, "handoff.viewed", handoff.id, now)


# --- the no-agent notice ----------------------------------------------------------------


@dataclass(frozen=True)
class DueTimeout:
    handoff_id: int
    wa_id: str
    marked_at: datetime


def mark_due_timeouts(
    session: Session, *, now: datetime | None = None, timeout_seconds: int | None = None
) -> list[DueTimeout]:
    """Mark and return the waiting hand-offs whose partner should get the no-agent notice.

    Due: waiting (nobody claimed it) for longer than the timeout, not yet notified in this
    waiting period, and support open now and a timeout ago (after hours, a partner is
    told when support opens, not that nobody answered). Each is marked by a conditional
    UPDATE, so two backends never both notify.
    """
    now = now or utcnow()
    timeout = timedelta(
        seconds=timeout_seconds if timeout_seconds is not None else support_hours.timeout_seconds()
    )
    if not (support_hours.open_at(now) and support_hours.open_at(now - timeout)):
        return []
    due: list[DueTimeout] = []
    with write_transaction(session):
        candidates = session.execute(
            select(Handoff.id, Handoff.wa_id).where(
                Handoff.status == HandoffStatus.WAITING.value,
                Handoff.claimed_by.is_(None),
                Handoff.timeout_notified_at.is_(None),
                Handoff.waiting_since <= now - timeout,
            )
        ).all()
        for handoff_id, wa_id in candidates:
            marked = session.execute(
                update(Handoff)
                .where(
                    Handoff.id == handoff_id,
                    Handoff.status == HandoffStatus.WAITING.value,
                    Handoff.timeout_notified_at.is_(None),
                )
                .values(timeout_notified_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if marked:
                due.append(DueTimeout(handoff_id, wa_id, now))
    return due


def timeout_notified(session: Session, due: DueTimeout) -> None:
    """Rasa accepted the no-agent notice: audit it."""
    with write_transaction(session):
        audit.record(
            session,
            actor="backend",
            action="handoff.no_agent_notice",
            entity=ENTITY,
            entity_id=due.handoff_id,
            now=due.marked_at,
        )


def unmark_timeout(session: Session, due: DueTimeout) -> None:
    """Rasa could not be told: the next round tries again."""
    with write_transaction(session):
        session.execute(
            update(Handoff)
            .where(Handoff.id == due.handoff_id, Handoff.timeout_notified_at == due.marked_at)
            .values(timeout_notified_at=None)
            .execution_options(synchronize_session=False)
        )
