"""Notices the program sends first (issue 21): the outbox and the rules the notifier applies.

The binding contract is docs/contracts.md, "Notices the program sends first". In short:

- ``enqueue`` adds a notice in the CALLER's transaction (never commits): the notice exists
  exactly when the event it tells about does. Its ``dedupe_key`` is UNIQUE and the insert
  is ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` on both databases, so the same
  event queued twice (a replay, two racing transactions) leaves one row: on PostgreSQL
  the second insert waits for the first transaction and then does nothing; SQLite writers
  run one at a time. Kinds, categories and templates are data (notification_rules.py).
- The notifier (app/notifier/) calls ``lease_due`` (due ``pending`` rows, and ``sending``
  rows whose lease ran out: a notifier that died), ``decide`` on each group, then
  ``suppress`` / ``defer`` / ``mark_handed`` / ``release_for_retry``. A lease is one
  guarded UPDATE per batch (PostgreSQL picks the rows with ``FOR UPDATE SKIP LOCKED``, so
  two notifiers never lease the same row; SQLite writers run one at a time). Every later
  change is guarded by the status it expects, so a late or repeated report changes nothing.
- The connector reports each send (``record_send``: the per-code policy below) and
  WhatsApp's status webhooks (``record_statuses``: sent < delivered < read, never back).

``record_send`` policy for a failed send: 131047 (outside the 24-hour window) -> pending
again at once with ``delivery=template``; 131049 (WhatsApp's per-user marketing limit)
-> pending, ``not_before`` + 24 h; 130429 / 131056 (rate limits), 5xx codes and no code
at all (the connector got no answer) -> pending after a back-off that doubles with each
attempt; 131026 (undeliverable) and any other code -> ``failed``, never retried blindly.
A notice that failed ``MAX_ATTEMPTS`` times is ``failed`` too.

Rules (``decide``, pure): a partner who left gets nothing; service notices (about the
partner's own claims, points and redemptions) go to everyone else, opted out or not;
marketing notices are suppressed for a partner who opted out (the flag, or a later
``marketing`` consent record saying no) or is suspended, wait out quiet hours in the
partner's own time zone (WIB/WITA/WIT by region) and the per-partner cap per 24 h.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import in_write_transaction, write_transaction
from app.core.logging import mask_wa_id
from app.models import ConsentRecord, LedgerEntry, Notification, Partner, Tier
from app.models.enums import PartnerStatus
from app.models.notification import Delivery, NotificationCategory, NotificationStatus
from app.services import notification_rules, tiers
from app.services.errors import TiersNotConfigured
from app.services.notification_rules import KIND_PARAMS, NotificationRules

log = logging.getLogger("app.notifications")

Text = dict[str, str]  # {"id": ..., "en": ...}
NS = NotificationStatus

REENGAGEMENT_REQUIRED = 131047  # outside the 24-hour window: only a template may go
USER_MARKETING_LIMIT = 131049  # WhatsApp holds back marketing to this user for now
RATE_LIMITED = frozenset({130429, 131056})  # throughput / pair rate limits
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 30  # first retry; doubles with each attempt
MAX_BACKOFF_SECONDS = 3600
USER_LIMIT_WAIT = timedelta(hours=24)
# A partner in a hand-off (waiting for or talking to an agent: the bot is paused and would
# say nothing): their notices wait this long, then the rules look again.
WITH_AGENT_WAIT = timedelta(minutes=5)
DEFAULT_LEASE_SECONDS = 60
MAX_ERROR_CHARS = 500
_INSERT_CHUNK = 500
# Statuses in the order they may only move forward (failed sits with sent: WhatsApp may
# report a message sent and then failed; delivered and read prove it arrived).
_BEFORE_SENT = (NS.PENDING.value, NS.SENDING.value, NS.HANDED.value)
_MOVES_TO: dict[str, tuple[str, ...]] = {
    NS.SENT: _BEFORE_SENT,
    NS.FAILED: (*_BEFORE_SENT, NS.SENT.value),
    NS.DELIVERED: (*_BEFORE_SENT, NS.SENT.value, NS.FAILED.value),
    NS.READ: (*_BEFORE_SENT, NS.SENT.value, NS.FAILED.value, NS.DELIVERED.value),
}


def _rules(rules: NotificationRules | None = None) -> NotificationRules:
    return rules or notification_rules.load_rules()


# --- enqueue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewNotice:
    """One notice to queue for one partner (``enqueue_many``)."""

    partner_id: int
    wa_id: str
    params: Mapping[str, Any]
    dedupe_key: str
    group_key: str | None = None


def check_params(kind: str, params: Mapping[str, Any]) -> None:
    """ValueError unless ``kind`` is known and ``params`` are exactly its params."""
    expected = KIND_PARAMS.get(kind)
    if expected is None:
        raise ValueError(f"unknown notice kind {kind!r}")
    if set(params) != set(expected):
        raise ValueError(f"{kind} takes params {', '.join(expected)}, got {', '.join(params)}")


def enqueue(
    session: Session,
    partner: Partner,
    kind: str,
    params: Mapping[str, Any],
    *,
    dedupe_key: str,
    group_key: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue one notice in the caller's transaction (never commits). False: a notice with
    this ``dedupe_key`` exists already (nothing changed), also under concurrency."""
    notice = NewNotice(partner.id, partner.wa_id, params, dedupe_key, group_key)
    added = enqueue_many(session, kind, [notice], now=now)
    if added:
        log.info(
            "notice queued",
            extra={"kind": kind, "partner_id": partner.id, "wa_id": mask_wa_id(partner.wa_id)},
        )
    return bool(added)


def enqueue_many(
    session: Session, kind: str, notices: Sequence[NewNotice], *, now: datetime | None = None
) -> int:
    """Queue many notices of one kind (multi-row inserts, duplicates skipped) in the
    caller's transaction; returns how many were added."""
    rules = _rules()
    now = now or utcnow()
    if kind not in KIND_PARAMS:
        raise ValueError(f"unknown notice kind {kind!r}")
    category = rules.category(kind)
    rows = []
    for notice in notices:
        check_params(kind, notice.params)
        if not notice.dedupe_key or len(notice.dedupe_key) > 200:
            raise ValueError("a dedupe_key has 1-200 characters")
        rows.append(
            {
                "partner_id": notice.partner_id,
                "wa_id": notice.wa_id,
                "kind": kind,
                "category": category,
                "params": dict(notice.params),
                "dedupe_key": notice.dedupe_key,
                "group_key": notice.group_key[:128] if notice.group_key else None,
                "status": NS.PENDING.value,
                "delivery": None,
                "not_before": now,
                "attempts": 0,
                "created_at": now,
            }
        )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = 0
    for start in range(0, len(rows), _INSERT_CHUNK):
        # RETURNING, not rowcount: the drivers do not agree on rowcount here.
        inserted = session.scalars(
            insert(Notification)
            .values(rows[start : start + _INSERT_CHUNK])
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Notification.id)
        ).all()
        added += len(inserted)
    return added


# --- notices other services write ------------------------------------------------------


def tier_rank(session: Session, partner_id: int, now: datetime) -> Tier | None:
    """The partner's current tier (None when no tiers are configured). Call it before an
    earn and pass it to ``notify_tier_up`` after, in the same transaction."""
    try:
        return tiers.current_tier(session, partner_id, now)
    except TiersNotConfigured:
        return None


def notify_credit(
    session: Session,
    partner: Partner,
    entry: LedgerEntry,
    source: Text,
    *,
    group_key: str | None,
    now: datetime,
) -> bool:
    """``points_credited`` for a ledger credit (once per entry)."""
    return enqueue(
        session,
        partner,
        "points_credited",
        {
            "points": int(entry.delta),
            "balance": int(entry.balance_after),
            "source_id": source["id"],
            "source_en": source["en"],
        },
        dedupe_key=f"points_credited:{entry.idempotency_key}",
        group_key=group_key,
        now=now,
    )


def notify_tier_up(
    session: Session,
    partner: Partner,
    before: Tier | None,
    *,
    group_key: str | None,
    now: datetime,
) -> bool:
    """``tier_up`` when the partner's tier now ranks above ``before`` (see ``tier_rank``)."""
    if before is None:
        return False
    after = tier_rank(session, partner.id, now)
    if after is None or after.rank <= before.rank:
        return False
    return enqueue(
        session,
        partner,
        "tier_up",
        {"tier": after.name},
        dedupe_key=f"tier_up:{partner.id}:{after.code}:{group_key or now.date().isoformat()}",
        group_key=group_key,
        now=now,
    )


# --- the rules the notifier applies ----------------------------------------------------


class Recipient(Protocol):
    """What ``decide`` needs of a partner: a ``Partner`` row, or ``recipient(...)``."""

    @property
    def region(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def opted_out(self) -> bool: ...


@dataclass(frozen=True)
class RecipientView:
    region: str
    status: str
    opted_out: bool
    with_agent: bool = False  # an open hand-off (``handoffs.open_for_partners``)


def recipient(session: Session, partner: Partner, *, with_agent: bool = False) -> RecipientView:
    """The partner as ``decide`` sees them: opted out of marketing when the partner's flag
    says so or the latest ``marketing`` consent record is a no (the seed writes both)."""
    latest = session.scalar(
        select(ConsentRecord.granted)
        .where(ConsentRecord.partner_id == partner.id, ConsentRecord.kind == "marketing")
        .order_by(ConsentRecord.created_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )
    opted_out = bool(partner.opted_out) or latest is False
    return RecipientView(partner.region, partner.status, opted_out, with_agent)


@dataclass(frozen=True)
class Send:
    pass


@dataclass(frozen=True)
class Suppress:
    reason: str  # "partner_left", "opted_out", "partner_suspended"


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str  # "quiet_hours", "marketing_cap", "with_agent"


Decision = Send | Suppress | Defer


class _HasCategory(Protocol):
    @property
    def category(self) -> str: ...


def decide(
    notifications: _HasCategory | Sequence[_HasCategory],
    partner: Recipient,
    now: datetime,
    recent_marketing_count: int,
    *,
    cap_frees_at: datetime | None = None,
    rules: NotificationRules | None = None,
) -> Decision:
    """What to do now with a notice, or a group that goes out as one message (a group
    counts as marketing if any of its notices is; ``lease_due`` never mixes them).

    ``recent_marketing_count``: marketing messages the partner got in the cap's window
    (``marketing_window``); ``cap_frees_at``: when the oldest of them leaves the window
    (a capped notice waits until then; one hour when not given).
    """
    rules = _rules(rules)
    group = [notifications] if not isinstance(notifications, Sequence) else notifications
    if partner.status == PartnerStatus.LEFT:
        return Suppress("partner_left")
    if getattr(partner, "with_agent", False):
        return Defer(now + WITH_AGENT_WAIT, "with_agent")
    if all(n.category == NotificationCategory.SERVICE for n in group):
        return Send()
    if partner.opted_out:
        return Suppress("opted_out")
    if partner.status == PartnerStatus.SUSPENDED:
        return Suppress("partner_suspended")
    quiet_end = rules.quiet_until(partner.region, now)
    if quiet_end is not None:
        return Defer(quiet_end, "quiet_hours")
    if recent_marketing_count >= rules.marketing_cap.messages:
        until = cap_frees_at if cap_frees_at and cap_frees_at > now else now + timedelta(hours=1)
        return Defer(rules.quiet_until(partner.region, until) or until, "marketing_cap")
    return Send()


def marketing_window(
    session: Session, partner_id: int, now: datetime, *, rules: NotificationRules | None = None
) -> tuple[int, datetime | None]:
    """Marketing messages handed for the partner within the cap's window (a group is one
    message), and when the one that must leave the window for another to go leaves it."""
    rules = _rules(rules)
    window = timedelta(hours=rules.marketing_cap.hours)
    rows = session.execute(
        select(Notification.id, Notification.group_key, Notification.handed_at).where(
            Notification.partner_id == partner_id,
            Notification.category == NotificationCategory.MARKETING.value,
            Notification.handed_at.is_not(None),
            Notification.handed_at > now - window,
        )
    ).all()
    first_by_message: dict[str, datetime] = {}
    for notice_id, group_key, handed_at in rows:
        message = f"g:{group_key}" if group_key else f"n:{notice_id}"
        if message not in first_by_message or handed_at < first_by_message[message]:
            first_by_message[message] = handed_at
    times = sorted(first_by_message.values())
    cap = rules.marketing_cap.messages
    frees_at = times[len(times) - cap] + window if len(times) >= cap else None
    return len(times), frees_at


# --- the notifier's lease --------------------------------------------------------------


@dataclass(frozen=True)
class LeasedNotice:
    id: int
    partner_id: int
    wa_id: str
    kind: str
    category: str
    params: dict[str, Any]
    group_key: str | None
    delivery: str | None
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class LeasedGroup:
    """One partner's leased notices that go out as ONE message (same group_key and
    category; a notice without a group_key is a group of its own)."""

    partner_id: int
    wa_id: str
    group_key: str | None
    category: str
    notices: tuple[LeasedNotice, ...]

    @property
    def ids(self) -> list[int]:
        return [n.id for n in self.notices]

    @property
    def delivery(self) -> str | None:
        """``template`` when any notice must go as a template (WhatsApp said so)."""
        if any(n.delivery == Delivery.TEMPLATE for n in self.notices):
            return Delivery.TEMPLATE.value
        return None


def _due(now: datetime) -> Any:
    return or_(
        and_(Notification.status == NS.PENDING.value, Notification.not_before <= now),
        and_(
            Notification.status == NS.SENDING.value,
            Notification.lease_until < now,
            Notification.attempts < MAX_ATTEMPTS,
        ),
    )


def lease_due(
    session: Session,
    now: datetime | None = None,
    limit: int = 100,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> list[LeasedGroup]:
    """Lease up to ``limit`` due notices (``sending`` until now + ``lease_seconds``), in
    one transaction of its own, and return them grouped per partner and group_key.

    Due: ``pending`` with ``not_before <= now``, or ``sending`` whose lease ran out (the
    notifier that held it died: it is leased again). A notice whose lease ran out
    ``MAX_ATTEMPTS`` times is failed instead. Two notifiers never lease the same row.
    """
    if in_write_transaction(session):
        raise RuntimeError("lease_due runs its own transaction")
    now = now or utcnow()
    until = now + timedelta(seconds=lease_seconds)
    with write_transaction(session):
        session.execute(
            update(Notification)
            .where(
                Notification.status == NS.SENDING.value,
                Notification.lease_until < now,
                Notification.attempts >= MAX_ATTEMPTS,
            )
            .values(status=NS.FAILED.value, lease_until=None, last_error="gave up: lease expired")
            .execution_options(synchronize_session=False)
        )
        pick = (
            select(Notification.id)
            .where(_due(now))
            .order_by(Notification.not_before, Notification.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = list(session.scalars(pick))
        if not ids:
            return []
        rows = session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), _due(now))
            .values(status=NS.SENDING.value, lease_until=until, attempts=Notification.attempts + 1)
            .returning(
                Notification.id,
                Notification.partner_id,
                Notification.wa_id,
                Notification.kind,
                Notification.category,
                Notification.params,
                Notification.group_key,
                Notification.delivery,
                Notification.attempts,
                Notification.created_at,
            )
            .execution_options(synchronize_session=False)
        ).all()
    groups: dict[tuple[int, str, str], list[LeasedNotice]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        notice = LeasedNotice(*row)
        key = (notice.partner_id, notice.group_key or f"#{notice.id}", notice.category)
        groups.setdefault(key, []).append(notice)
    leased = [
        LeasedGroup(n[0].partner_id, n[0].wa_id, n[0].group_key, n[0].category, tuple(n))
        for n in groups.values()
    ]
    log.info("notices leased", extra={"notices": len(rows), "groups": len(leased)})
    return leased


def item_payload(
    notice: LeasedNotice | Notification, rules: NotificationRules | None = None
) -> dict[str, Any]:
    """One item of the ``EXTERNAL_notify`` payload: id, kind, params and the template."""
    rules = _rules(rules)
    params = dict(notice.params)
    return {
        "id": notice.id,
        "kind": notice.kind,
        "params": params,
        "template": {
            "name": rules.kinds[notice.kind].template.name,
            "parameters": rules.template_parameters(notice.kind, params),
        },
    }


def notice_payload(
    group: LeasedGroup, delivery: str, rules: NotificationRules | None = None
) -> dict[str, Any]:
    """The ``notice`` entity of ``EXTERNAL_notify`` (docs/contracts.md) for one group."""
    return {
        "ids": group.ids,
        "delivery": delivery,
        "items": [item_payload(notice, rules) for notice in group.notices],
    }


def _ids(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def _short(error: str | None) -> str | None:
    return error[:MAX_ERROR_CHARS] if error else None


def mark_handed(
    session: Session, ids: Iterable[int], *, delivery: str | None = None,
    now: datetime | None = None,
) -> int:
    """Rasa accepted the turn: ``sending`` -> ``handed``. Returns how many changed (a
    notice the connector already reported as sent stays sent). ``delivery`` None: the bot
    chose (by the 24-hour window) and the connector's send report says which."""
    now = now or utcnow()
    values: dict[str, Any] = {"status": NS.HANDED.value, "handed_at": now, "lease_until": None}
    if delivery is not None:
        values["delivery"] = Delivery(delivery).value
    with write_transaction(session):
        changed = session.execute(
            update(Notification)
            .where(Notification.id.in_(_ids(ids)), Notification.status == NS.SENDING.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    return int(changed)


def backoff_for(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` tries: 30 s, 60 s, ... up to 1 h."""
    seconds = BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


def _retry(
    session: Session,
    ids: list[int],
    *,
    from_statuses: Sequence[str],
    error: str | None,
    error_code: int | None,
    backoff: timedelta | None,
    now: datetime,
    **values: Any,
) -> int:
    """Back to ``pending`` after ``backoff`` (per attempt when None); failed when the
    notice has run out of attempts."""
    rows = session.execute(
        select(Notification.id, Notification.attempts).where(
            Notification.id.in_(ids), Notification.status.in_(from_statuses)
        )
    ).all()
    changed = 0
    for notice_id, attempts in rows:
        given_up = attempts >= MAX_ATTEMPTS
        wait = backoff if backoff is not None else backoff_for(attempts)
        changed += session.execute(
            update(Notification)
            .where(Notification.id == notice_id, Notification.status.in_(from_statuses))
            .values(
                status=NS.FAILED.value if given_up else NS.PENDING.value,
                not_before=now if given_up else now + wait,
                lease_until=None,
                last_error=_short(error),
                last_error_code=error_code,
                **values,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    return changed


def release_for_retry(
    session: Session,
    ids: Iterable[int],
    error: str,
    backoff: timedelta | float | None = None,
    *,
    error_code: int | None = None,
    now: datetime | None = None,
) -> int:
    """Rasa was down or refused (5xx, timeout): leased notices go back to ``pending``
    after ``backoff`` (seconds or a timedelta; None: doubling per attempt)."""
    now = now or utcnow()
    wait = timedelta(seconds=backoff) if isinstance(backoff, int | float) else backoff
    with write_transaction(session):
        changed = _retry(
            session,
            _ids(ids),
            from_statuses=(NS.SENDING.value,),
            error=error,
            error_code=error_code,
            backoff=wait,
            now=now,
        )
    log.warning("notices released for retry", extra={"notices": changed, "error": _short(error)})
    return changed


def suppress(
    session: Session, ids: Iterable[int], reason: str, *, now: datetime | None = None
) -> int:
    """``decide`` said Suppress: leased notices become ``suppressed`` (with the reason)."""
    with write_transaction(session):
        changed = session.execute(
            update(Notification)
            .where(Notification.id.in_(_ids(ids)), Notification.status == NS.SENDING.value)
            .values(status=NS.SUPPRESSED.value, lease_until=None, last_error=_short(reason))
            .execution_options(synchronize_session=False)
        ).rowcount
    return int(changed)


def defer(session: Session, ids: Iterable[int], until: datetime, reason: str = "deferred") -> int:
    """``decide`` said Defer: leased notices wait until ``until`` (not a failed attempt)."""
    with write_transaction(session):
        changed = session.execute(
            update(Notification)
            .where(Notification.id.in_(_ids(ids)), Notification.status == NS.SENDING.value)
            .values(
                status=NS.PENDING.value,
                not_before=until,
                lease_until=None,
                last_error=_short(reason),
                attempts=case((Notification.attempts > 0, Notification.attempts - 1), else_=0),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    return int(changed)


def _send_later(session: Session, ids: list[int], now: datetime) -> None:
    if not ids:
        return
    with write_transaction(session):
        session.execute(
            update(Notification)
            .where(
                Notification.id.in_(ids),
                Notification.status.in_((NS.SENDING.value, NS.HANDED.value)),
            )
            .values(
                status=NS.PENDING.value,
                delivery=Delivery.TEMPLATE.value,
                not_before=now,
                lease_until=None,
                attempts=case((Notification.attempts > 0, Notification.attempts - 1), else_=0),
            )
            .execution_options(synchronize_session=False)
        )


def _transient(error_code: int | None) -> bool:
    return error_code is None or error_code in RATE_LIMITED or 500 <= error_code <= 599


def record_send(
    session: Session,
    ids: Iterable[int],
    ok: bool,
    wamid: str | None,
    error_code: int | None,
    error: str | None,
    now: datetime | None = None,
    delivery: str | None = None,
    later: Iterable[int] = (),
) -> int:
    """The connector's report of one send (module docstring for the policy). Returns how
    many notices changed; a repeated or late report changes nothing. ``delivery``: how the
    bot sent it (a free-form message or the template), when the report says. ``later``:
    notices of the group the message could not carry (a template says one notice); they
    go back to ``pending`` as templates, not counted as a try, and the notifier sends the
    next one at the partner's next slot."""
    now = now or utcnow()
    targets = _ids(ids)
    _send_later(session, _ids(later), now)
    sent_delivery = {"delivery": Delivery(delivery).value} if delivery else {}
    live = (NS.SENDING.value, NS.HANDED.value)
    with write_transaction(session):
        if ok:
            # Also from pending: the notifier may have given up on a turn Rasa did run.
            changed = session.execute(
                update(Notification)
                .where(Notification.id.in_(targets), Notification.status.in_((*live, NS.PENDING)))
                .values(
                    status=NS.SENT.value,
                    wamid=wamid,
                    sent_at=now,
                    handed_at=func.coalesce(Notification.handed_at, now),
                    lease_until=None,
                    **sent_delivery,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            outcome = "sent"
        elif error_code == REENGAGEMENT_REQUIRED:
            changed = _retry(
                session, targets, from_statuses=live, error=error, error_code=error_code,
                backoff=timedelta(0), now=now, delivery=Delivery.TEMPLATE.value,
            )  # fmt: skip
            outcome = "retry_as_template"
        elif error_code == USER_MARKETING_LIMIT:
            changed = _retry(
                session, targets, from_statuses=live, error=error, error_code=error_code,
                backoff=USER_LIMIT_WAIT, now=now,
            )  # fmt: skip
            outcome = "retry_tomorrow"
        elif _transient(error_code):
            changed = _retry(
                session, targets, from_statuses=live, error=error, error_code=error_code,
                backoff=None, now=now,
            )  # fmt: skip
            outcome = "retry_later"
        else:
            changed = session.execute(
                update(Notification)
                .where(Notification.id.in_(targets), Notification.status.in_(live))
                .values(
                    status=NS.FAILED.value,
                    last_error_code=error_code,
                    last_error=_short(error),
                    lease_until=None,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            outcome = "failed"
    log.info(
        "notice send reported",
        extra={"notices": len(targets), "changed": changed, "outcome": outcome,
               "error_code": error_code},
    )  # fmt: skip
    return int(changed)


@dataclass(frozen=True)
class StatusReport:
    """One WhatsApp status webhook entry."""

    wamid: str
    status: str  # sent | delivered | read | failed
    timestamp: datetime
    error_code: int | None = None


def record_statuses(
    session: Session, statuses: Sequence[StatusReport], *, now: datetime | None = None
) -> int:
    """Apply status webhooks; returns how many named a known wamid. A status never goes
    backwards (sent < delivered < read); ``failed`` records the code (and never undoes
    delivered or read). Unknown wamids are ignored."""
    matched = 0
    with write_transaction(session):
        for report in statuses:
            if report.status not in _MOVES_TO:
                raise ValueError(f"unknown status {report.status!r}")
            known = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.wamid == report.wamid)
            )
            if not known:
                continue
            matched += 1
            at = report.timestamp
            by_wamid = Notification.wamid == report.wamid
            stamps: dict[str, Any] = {}
            if report.status == NS.SENT:
                stamps["sent_at"] = func.coalesce(Notification.sent_at, at)
            elif report.status == NS.DELIVERED:
                stamps["delivered_at"] = func.coalesce(Notification.delivered_at, at)
            elif report.status == NS.READ:
                stamps["read_at"] = func.coalesce(Notification.read_at, at)
                stamps["delivered_at"] = func.coalesce(Notification.delivered_at, at)
            values: dict[str, Any] = {"status": report.status, **stamps}
            if report.status == NS.FAILED:
                values["last_error_code"] = report.error_code
                values["last_error"] = "WhatsApp reported the message failed"
            session.execute(
                update(Notification)
                .where(by_wamid, Notification.status.in_(_MOVES_TO[report.status]))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if stamps:  # a late "delivered" after "read" still records when it arrived
                session.execute(
                    update(Notification)
                    .where(by_wamid)
                    .values(**stamps)
                    .execution_options(synchronize_session=False)
                )
    return matched


# --- reads ---------------------------------------------------------------------------


def list_for_admin(
    session: Session,
    *,
    wa_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Notification]:
    """Notices newest first, optionally one partner's or in one status."""
    query = select(Notification)
    if wa_id is not None:
        query = query.where(Notification.wa_id == wa_id)
    if status is not None:
        query = query.where(Notification.status == status)
    return list(
        session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc())
                        .limit(limit))
    )  # fmt: skip


def for_partner(session: Session, partner_id: int) -> list[Notification]:
    """A partner's notices, oldest first (tests and the console)."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.partner_id == partner_id)
            .order_by(Notification.id)
            .execution_options(populate_existing=True)
        )
    )
