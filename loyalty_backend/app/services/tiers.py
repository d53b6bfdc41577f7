"""Tier progress: which tier a partner is in and how far the next one is.

The rule is data (table ``tier``): a partner is in the highest tier whose ``min_points``
they have *earned* within that tier's rolling ``window_days`` (ending now).

"Earned" counts positive ledger entries whose reason is activity that earns: claims,
quizzes, referrals, welcome and campaign bonuses. Spending, expiry and admin
adjustments (either way) do not move a partner up or down: redeeming a reward must
never cost a tier, and an adjustment corrects a balance, not a status.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_date
from app.core.config import settings
from app.models import LedgerEntry, Tier
from app.models.enums import LedgerReason
from app.services.errors import TiersNotConfigured

TIER_QUALIFYING_REASONS = frozenset(
    {
        LedgerReason.CLAIM.value,
        LedgerReason.QUIZ.value,
        LedgerReason.REFERRAL.value,
        LedgerReason.WELCOME_BONUS.value,
        LedgerReason.CAMPAIGN_BONUS.value,
    }
)

# code, name, min_points, rank, multiplier_percent. Window: settings.TIER_WINDOW_DAYS.
DEFAULT_TIERS = (
    ("silver", "Silver", 0, 1, 100),
    ("gold", "Gold", 5000, 2, 125),
    ("platinum", "Platinum", 15000, 3, 150),
)


@dataclass(frozen=True)
class TierProgress:
    current: Tier
    next: Tier | None
    points_in_window: int  # measured over next's window (current's at the top tier)
    window_days: int
    points_to_next: int
    window_start: date  # WIB date


def list_tiers(session: Session) -> list[Tier]:
    """All tiers, lowest rank first."""
    return list(session.scalars(select(Tier).order_by(Tier.rank)))


def ensure_default_tiers(session: Session) -> int:
    """Insert the default tiers that are missing (by code); returns how many were added."""
    existing = set(session.scalars(select(Tier.code)))
    added = 0
    for code, name, min_points, rank, multiplier in DEFAULT_TIERS:
        if code in existing:
            continue
        session.add(
            Tier(
                code=code,
                name=name,
                min_points=min_points,
                rank=rank,
                multiplier_percent=multiplier,
                window_days=settings.TIER_WINDOW_DAYS,
            )
        )
        added += 1
    session.flush()
    return added


def points_earned_in_window(
    session: Session, partner_id: int, window_days: int, now: datetime
) -> int:
    """Tier-qualifying points earned in (now - window_days, now]."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            LedgerEntry.partner_id == partner_id,
            LedgerEntry.delta > 0,
            LedgerEntry.reason.in_(TIER_QUALIFYING_REASONS),
            LedgerEntry.created_at > now - timedelta(days=window_days),
            LedgerEntry.created_at <= now,
        )
    )
    return int(total or 0)


def progress(session: Session, partner_id: int, now: datetime | None = None) -> TierProgress:
    """Current tier, next tier and the points still needed to reach it."""
    now = now or utcnow()
    tiers = list_tiers(session)
    if not tiers:
        raise TiersNotConfigured()
    earned_by_window: dict[int, int] = {}

    def earned(window_days: int) -> int:
        if window_days not in earned_by_window:
            earned_by_window[window_days] = points_earned_in_window(
                session, partner_id, window_days, now
            )
        return earned_by_window[window_days]

    current_index = 0
    for index, tier in enumerate(tiers):
        if earned(tier.window_days) >= tier.min_points:
            current_index = index
    current = tiers[current_index]
    nxt = tiers[current_index + 1] if current_index + 1 < len(tiers) else None
    measured = nxt or current
    points = earned(measured.window_days)
    return TierProgress(
        current=current,
        next=nxt,
        points_in_window=points,
        window_days=measured.window_days,
        points_to_next=max(0, nxt.min_points - points) if nxt else 0,
        window_start=wib_date(now - timedelta(days=measured.window_days)),
    )


def current_tier(session: Session, partner_id: int, now: datetime | None = None) -> Tier:
    return progress(session, partner_id, now).current
