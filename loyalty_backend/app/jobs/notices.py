"""The scheduler's notice jobs (issue 21): what the program tells partners on its own.

Each job only QUEUES notices (app/services/notifications.py); the notifier sends them by
the rules (opt-out, quiet hours, the marketing cap). Every notice has a dedupe key that
names the run's subject, so a job run twice (a retry, two schedulers, ``--run-once`` by
hand) queues nothing twice:

- ``expiring_points``: points whose last day is exactly 30 and 7 days from today (WIB;
  ``expiring_days`` in content/notifications.yml), summed per partner and day, from the
  ledger's lots. Key ``expiring:<partner>:<date>:<days>``.
- ``dormant_nudges``: active partners with no earn, claim, redemption or quiz activity for
  ``dormant_days`` (joined at least that long ago). Key ``dormant:<partner>:<date of the
  last activity>``: one nudge per quiet spell.
- ``weekly_summary``: for the last complete ISO week (Monday-Sunday, WIB), the points
  each partner earned (claims, quizzes, referrals, bonuses) and their rank among the
  partners of their region by those points (1 = most). Key ``weekly:<partner>:<week>``.
- ``anniversary_vouchers``: there is no birthday on a partner, so the program anniversary
  (the partner's ``created_at`` WIB date, from ``min_years``) is used: the promo code and
  gift named in content/notifications.yml, once per partner and year (a code of its own
  per partner would need a zero-point redemption, which the schema refuses). Key
  ``anniversary:<partner>:<year>``.
- ``event_points``: event-attendance files (content/<events.dir>/*.yml: ``event_id``,
  ``name {id, en}``, ``points``, ``attendees: [wa_id]``): the points are credited through
  the ledger (reason ``campaign_bonus``, key ``campaign:event:<event_id>:<partner>``) with
  the ``event_points`` notice, in one transaction per partner. Key
  ``event:<event_id>:<partner>``.

A job's result is plain numbers (what was queued, skipped or failed).
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_date, wib_end_of_day, wib_start_of_day
from app.core.db import write_transaction
from app.models import Claim, LedgerEntry, Partner, PointsLot, QuestionnaireAttempt, Redemption
from app.models.enums import LedgerReason, PartnerStatus
from app.services import ledger, notification_rules, notifications
from app.services.ledger import KeyNamespace
from app.services.notification_rules import RULES_FILE, NotificationRules

log = logging.getLogger("app.jobs.notices")

# Points a partner "earned" in a week: activity, not refunds or corrections.
WEEKLY_REASONS = frozenset(
    {
        LedgerReason.CLAIM.value,
        LedgerReason.QUIZ.value,
        LedgerReason.REFERRAL.value,
        LedgerReason.WELCOME_BONUS.value,
        LedgerReason.CAMPAIGN_BONUS.value,
    }
)
EVENT_ACTOR = "system:events"


@dataclass
class JobRun:
    job: str
    queued: int = 0
    skipped: int = 0
    failed: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def _active_partners(session: Session, ids: set[int]) -> dict[int, Partner]:
    if not ids:
        return {}
    found = session.scalars(
        select(Partner).where(Partner.id.in_(ids), Partner.status == PartnerStatus.ACTIVE.value)
    )
    return {p.id: p for p in found}


# --- expiring points ---------------------------------------------------------------------


def expiring_points(
    session: Session, now: datetime | None = None, *, rules: NotificationRules | None = None
) -> JobRun:
    now = now or utcnow()
    rules = rules or notification_rules.load_rules()
    run = JobRun("expiring_points")
    today = wib_date(now)
    with write_transaction(session):
        for days in rules.expiring_days:
            day = today + timedelta(days=days)
            rows = session.execute(
                select(PointsLot.partner_id, func.sum(PointsLot.points_remaining))
                .where(
                    PointsLot.points_remaining > 0,
                    PointsLot.expires_at >= wib_start_of_day(day),
                    PointsLot.expires_at <= wib_end_of_day(day),
                )
                .group_by(PointsLot.partner_id)
            ).all()
            partners = _active_partners(session, {partner_id for partner_id, _ in rows})
            for partner_id, points in rows:
                partner = partners.get(partner_id)
                if partner is None:
                    run.skipped += 1
                    continue
                run.queued += notifications.enqueue(
                    session,
                    partner,
                    "points_expiring",
                    {"points": int(points), "date": day.isoformat()},
                    dedupe_key=f"expiring:{partner_id}:{day.isoformat()}:{days}",
                    now=now,
                )
    return run


# --- dormant partners --------------------------------------------------------------------


def last_activity(session: Session) -> dict[int, datetime]:
    """Each partner's latest earn, claim, redemption or quiz/survey start."""
    earned = select(
        LedgerEntry.partner_id.label("partner_id"), LedgerEntry.created_at.label("at")
    ).where(LedgerEntry.delta > 0, LedgerEntry.reason != LedgerReason.REFUND.value)
    claims = select(Claim.partner_id.label("partner_id"), Claim.created_at.label("at"))
    redeemed = select(Redemption.partner_id.label("partner_id"), Redemption.created_at.label("at"))
    quizzes = select(
        QuestionnaireAttempt.partner_id.label("partner_id"),
        QuestionnaireAttempt.started_at.label("at"),
    )
    activity = union_all(earned, claims, redeemed, quizzes).subquery()
    rows = session.execute(
        select(activity.c.partner_id, func.max(activity.c.at)).group_by(activity.c.partner_id)
    ).all()
    return {partner_id: at for partner_id, at in rows}


def dormant_nudges(
    session: Session, now: datetime | None = None, *, rules: NotificationRules | None = None
) -> JobRun:
    now = now or utcnow()
    rules = rules or notification_rules.load_rules()
    run = JobRun("dormant_nudges")
    cutoff = now - timedelta(days=rules.dormant_days)
    with write_transaction(session):
        latest = last_activity(session)
        partners = session.scalars(
            select(Partner).where(
                Partner.status == PartnerStatus.ACTIVE.value, Partner.created_at <= cutoff
            )
        ).all()
        for partner in partners:
            since = latest.get(partner.id, partner.created_at)
            if since > cutoff:
                continue
            days = (wib_date(now) - wib_date(since)).days
            run.queued += notifications.enqueue(
                session,
                partner,
                "dormant_nudge",
                {"days": days},
                dedupe_key=f"dormant:{partner.id}:{wib_date(since).isoformat()}",
                now=now,
            )
    return run


# --- weekly summary ----------------------------------------------------------------------


def last_complete_week(now: datetime) -> tuple[date, str]:
    """The Monday (WIB) of the last complete ISO week before ``now``, and its label."""
    today = wib_date(now)
    monday = today - timedelta(days=today.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return monday, f"{year}-W{week:02d}"


def weekly_summary(
    session: Session, now: datetime | None = None, *, rules: NotificationRules | None = None
) -> JobRun:
    now = now or utcnow()
    rules = rules or notification_rules.load_rules()
    monday, label = last_complete_week(now)
    run = JobRun("weekly_summary", details={"week": label})
    start, end = wib_start_of_day(monday), wib_start_of_day(monday + timedelta(days=7))
    with write_transaction(session):
        rows = session.execute(
            select(Partner, func.sum(LedgerEntry.delta))
            .join(LedgerEntry, LedgerEntry.partner_id == Partner.id)
            .where(
                Partner.status == PartnerStatus.ACTIVE.value,
                LedgerEntry.delta > 0,
                LedgerEntry.reason.in_(WEEKLY_REASONS),
                LedgerEntry.created_at >= start,
                LedgerEntry.created_at < end,
            )
            .group_by(Partner.id)
        ).all()
        by_region: dict[str, list[int]] = defaultdict(list)
        for partner, points in rows:
            by_region[partner.region].append(int(points))
        for partner, points in rows:
            points = int(points)
            if points < rules.weekly_summary.min_points:
                run.skipped += 1
                continue
            rank = 1 + sum(other > points for other in by_region[partner.region])
            run.queued += notifications.enqueue(
                session,
                partner,
                "weekly_summary",
                {"points": points, "rank": rank, "region": partner.region},
                dedupe_key=f"weekly:{partner.id}:{label}",
                now=now,
            )
    return run


# --- anniversary vouchers ----------------------------------------------------------------


def anniversary_vouchers(
    session: Session, now: datetime | None = None, *, rules: NotificationRules | None = None
) -> JobRun:
    """The program anniversary's voucher (no birthday is recorded: module docstring): the
    promo code and gift named in content/notifications.yml, once per partner and year."""
    now = now or utcnow()
    rules = rules or notification_rules.load_rules()
    run = JobRun("anniversary_vouchers")
    config = rules.anniversary
    if not config.enabled or config.voucher_code is None or config.gift is None:
        run.details["disabled"] = True
        return run
    today = wib_date(now)
    with write_transaction(session):
        partners = session.scalars(
            select(Partner).where(Partner.status == PartnerStatus.ACTIVE.value)
        ).all()
        for partner in partners:
            joined = wib_date(partner.created_at)
            years = today.year - joined.year
            if (joined.month, joined.day) != (today.month, today.day) or years < config.min_years:
                continue
            run.queued += notifications.enqueue(
                session,
                partner,
                "birthday_voucher",
                {
                    "voucher_code": config.voucher_code,
                    "reward_id": config.gift.id,
                    "reward_en": config.gift.en,
                },
                dedupe_key=f"anniversary:{partner.id}:{today.year}",
                now=now,
            )
    return run


# --- event attendance --------------------------------------------------------------------


class EventName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=120)
    en: str = Field(min_length=1, max_length=120)


class EventAttendance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
    name: EventName
    held_on: date | None = Field(default=None, alias="date")
    points: int = Field(ge=1)
    attendees: list[str] = Field(default_factory=list)


def read_events(folder: Path, rules: NotificationRules) -> tuple[list[EventAttendance], list[str]]:
    """The attendance files, and every problem (``file: field: what``)."""
    events: list[EventAttendance] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        try:
            event = EventAttendance.model_validate(yaml.safe_load(path.read_text("utf-8")))
        except (yaml.YAMLError, ValidationError) as exc:
            problems.append(f"{path}: {exc}".replace("\n", " "))
            continue
        if event.points > rules.events.max_points:
            problems.append(f"{path}: points: more than {rules.events.max_points}")
            continue
        events.append(event)
    return events, problems


def event_points(
    session: Session,
    now: datetime | None = None,
    *,
    rules: NotificationRules | None = None,
    folder: Path | None = None,
) -> JobRun:
    now = now or utcnow()
    rules = rules or notification_rules.load_rules()
    folder = folder or RULES_FILE.parent / rules.events.dir
    events, problems = read_events(folder, rules)
    run = JobRun("event_points", failed=len(problems), details={"problems": problems})
    for problem in problems:
        log.error("event attendance file refused", extra={"problem": problem})
    for event in events:
        wa_ids = sorted(set(event.attendees))
        found = {
            p.wa_id: p for p in session.scalars(select(Partner).where(Partner.wa_id.in_(wa_ids)))
        }
        session.commit()
        for wa_id in wa_ids:
            partner = found.get(wa_id)
            if partner is None or partner.status != PartnerStatus.ACTIVE.value:
                run.skipped += 1
                continue
            try:
                with write_transaction(session):
                    run.queued += _event_credit(session, partner, event, now)
            except Exception:
                log.exception(
                    "event points failed",
                    extra={"event_id": event.event_id, "partner_id": partner.id},
                )
                run.failed += 1
    return run


def _event_credit(session: Session, partner: Partner, event: EventAttendance, now: datetime) -> int:
    def tell(entry: LedgerEntry) -> None:
        notifications.enqueue(
            session,
            partner,
            "event_points",
            {"event_id": event.name.id, "event_en": event.name.en, "points": event.points},
            dedupe_key=f"event:{event.event_id}:{partner.id}",
            now=now,
        )

    result = ledger.earn(
        session,
        partner_id=partner.id,
        points=event.points,
        reason=LedgerReason.CAMPAIGN_BONUS.value,
        reference_type="event",
        reference_id=event.event_id,
        idempotency_key=f"{KeyNamespace.CAMPAIGN.value}event:{event.event_id}:{partner.id}",
        key_owner=KeyNamespace.CAMPAIGN,
        description=f"Event: {event.name.en}"[:200],
        now=now,
        actor=EVENT_ACTOR,
        on_credit=tell,
    )
    return int(result.created)


# --- the jobs, by name -------------------------------------------------------------------

Job = Callable[..., JobRun]
DAILY: dict[str, Job] = {
    "expiring_points": expiring_points,
    "dormant_nudges": dormant_nudges,
    "anniversary_vouchers": anniversary_vouchers,
    "event_points": event_points,
}
WEEKLY: dict[str, Job] = {"weekly_summary": weekly_summary}
JOBS: dict[str, Job] = {**DAILY, **WEEKLY}
