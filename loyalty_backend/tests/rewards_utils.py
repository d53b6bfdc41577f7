"""Helpers for reward tests: rewards, voucher pools, partners with points, redeeming."""

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands import load_content
from app.core.clock import utcnow
from app.core.db import write_transaction
from app.models import Partner, Redemption, Reward
from app.schemas.reward import RewardDefinition
from app.services import ledger, redemptions, rewards, tiers, vouchers
from app.services.ledger import KeyNamespace
from tests.utils import new_partner

ADDRESS = "Jl. Uji Coba No. 1, Menteng, Jakarta Pusat 10310"
_keys = itertools.count(1)
_codes = itertools.count(1)


def load_rewards(session: Session) -> None:
    """Tiers, and the catalogue, rules and rewards from content/ (what the seed loads)."""
    with write_transaction(session):
        tiers.ensure_default_tiers(session)
        load_content.load_content(session)


def definition(
    code: str = "TEST-GOODS", kind: str = "merchandise", cost: int = 100, **fields: Any
) -> RewardDefinition:
    data: dict[str, Any] = {
        "code": code,
        "kind": kind,
        "name": {"id": f"Hadiah {code}", "en": f"Reward {code}"},
        "description": {"id": "Hadiah uji.", "en": "A test reward."},
        "cost": cost,
        **fields,
    }
    return RewardDefinition.model_validate(data)


def make_reward(
    session: Session,
    code: str = "TEST-GOODS",
    kind: str = "merchandise",
    cost: int = 100,
    **fields: Any,
) -> Reward:
    """A reward written as an admin would (tiers are configured first)."""
    with write_transaction(session):
        tiers.ensure_default_tiers(session)
    reward, _ = rewards.upsert_reward(session, definition(code, kind, cost, **fields), actor="test")
    return reward


def add_codes(
    session: Session,
    reward_code: str,
    count: int,
    *,
    expires_at: date | datetime | None = None,
    now: datetime | None = None,
    prefix: str | None = None,
) -> list[str]:
    """``count`` new codes in the pool (default: valid for 90 days)."""
    now = now or utcnow()
    batch = next(_codes)
    codes = [f"{prefix or reward_code}-{batch:03d}-{n:04d}" for n in range(count)]
    result = vouchers.import_codes(
        session,
        reward_code,
        codes,
        expires_at=expires_at or now + timedelta(days=90),
        actor="test",
        now=now,
    )
    assert result.added == count, result
    return codes


def give_points(
    session: Session,
    partner: Partner,
    points: int,
    *,
    reason: str = "adjustment",
    now: datetime | None = None,
    expires_in_days: int | None = None,
) -> None:
    """Points that do not move a tier (``adjustment``), unless ``reason`` says otherwise."""
    ledger.earn(
        session,
        partner_id=partner.id,
        points=points,
        reason=reason,
        reference_type="test",
        reference_id="funding",
        idempotency_key=f"{KeyNamespace.SYSTEM.value}test:{next(_keys)}",
        key_owner=KeyNamespace.SYSTEM,
        now=now,
        expires_in_days=expires_in_days,
    )


def funded_partner(session: Session, points: int, **kwargs: Any) -> Partner:
    partner = new_partner(session, **kwargs)
    if points:
        give_points(session, partner, points)
    return partner


def redeem(
    session: Session, partner: Partner, reward_code: str, *, key: str | None = None, **kwargs: Any
) -> redemptions.RedeemResult:
    return redemptions.redeem(
        session,
        partner.wa_id,
        reward_code=reward_code,
        idempotency_key=key or f"wa:test-{next(_keys)}",
        **kwargs,
    )


def all_redemptions(session: Session) -> list[Redemption]:
    session.commit()
    return list(
        session.scalars(
            select(Redemption).order_by(Redemption.id).execution_options(populate_existing=True)
        )
    )


def stock_of(session: Session, code: str) -> int | None:
    session.commit()
    return session.scalar(select(Reward.stock).where(Reward.code == code))
