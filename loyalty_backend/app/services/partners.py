"""Partners: lookup by WhatsApp id, profile (with tier and parent), language, status, creation.

What a partner's status allows (enforced here and in app/services/ledger.py, never in
routers). Reads: profile, balance, tier, history, expiring. Writes: earn, spend (admin
adjustments included), language; later claim, redeem, quiz answers.

- ``active``: reads and writes.
- ``suspended``: reads yes (a suspended partner may still see what they have; the profile
  says ``suspended``); writes refused with ``PartnerSuspended`` (API 403
  ``{"detail": "partner suspended"}``).
- ``left``: no longer served as a partner: reads and writes refused with ``PartnerLeft``
  (API 403 ``{"detail": "partner has left"}``). Their rows and ledger stay, for the audit.

Expiry keeps running for suspended and left partners (it is the ledger's own rule).
Back-office code that must see every partner (admin status changes) uses
``get_by_wa_id``, which ignores the status.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.core.clock import utcnow
from app.core.db import write_transaction
from app.models import ConsentRecord, Partner, PointsAccount, PointsLot, Tier
from app.models.enums import Language, PartnerRole, PartnerStatus
from app.schemas.common import WA_ID_PATTERN
from app.services import audit, ledger, tiers
from app.services.errors import PartnerLeft, PartnerNotFound, PartnerSuspended

_WA_ID = re.compile(WA_ID_PATTERN)


@dataclass(frozen=True)
class PartnerProfile:
    partner: Partner
    parent_wa_id: str | None
    tier: Tier


def get_by_wa_id(session: Session, wa_id: str) -> Partner:
    """The partner, whatever their status (back office only)."""
    partner = session.scalars(select(Partner).where(Partner.wa_id == wa_id)).one_or_none()
    if partner is None:
        raise PartnerNotFound()
    return partner


def ensure_readable(partner: Partner) -> Partner:
    """Raise PartnerLeft for a partner who has left (suspended partners may read)."""
    if partner.status == PartnerStatus.LEFT:
        raise PartnerLeft()
    return partner


def ensure_active(partner: Partner) -> Partner:
    """Raise PartnerSuspended or PartnerLeft unless the partner may write."""
    if partner.status == PartnerStatus.SUSPENDED:
        raise PartnerSuspended()
    return ensure_readable(partner)


def get_member(session: Session, wa_id: str) -> Partner:
    """The partner for a read on their behalf: active or suspended, not left."""
    return ensure_readable(get_by_wa_id(session, wa_id))


def profile(session: Session, wa_id: str, now: datetime | None = None) -> PartnerProfile:
    """Profile with tier and parent; refused (PartnerLeft) for a partner who has left."""
    parent = aliased(Partner)
    row = session.execute(
        select(Partner, parent.wa_id)
        .outerjoin(parent, parent.id == Partner.parent_id)
        .where(Partner.wa_id == wa_id)
    ).one_or_none()
    if row is None:
        raise PartnerNotFound()
    partner, parent_wa_id = row
    ensure_readable(partner)
    return PartnerProfile(partner, parent_wa_id, tiers.current_tier(session, partner.id, now))


@dataclass(frozen=True)
class PartnerSummary:
    """One line of the admin's partner list."""

    partner: Partner
    tier: Tier | None  # None when no tiers are configured
    balance: int  # available points: the account less what is already past its expiry


def list_partners(
    session: Session, *, limit: int, offset: int, now: datetime | None = None
) -> tuple[list[PartnerSummary], int]:
    """Every partner (whatever the status), oldest first, with tier and available points,
    and how many there are. Reads only: points past their expiry are left out of the
    balance here and swept by the daily job or the partner's next read."""
    now = now or utcnow()
    due = (
        select(PointsLot.partner_id, func.sum(PointsLot.points_remaining).label("points"))
        .where(PointsLot.points_remaining > 0, PointsLot.expires_at < now)
        .group_by(PointsLot.partner_id)
        .subquery()
    )
    total = session.scalar(select(func.count()).select_from(Partner)) or 0
    rows = session.execute(
        select(Partner, PointsAccount.balance, due.c.points)
        .outerjoin(PointsAccount, PointsAccount.partner_id == Partner.id)
        .outerjoin(due, due.c.partner_id == Partner.id)
        .order_by(Partner.id)
        .limit(limit)
        .offset(offset)
    ).all()
    configured = bool(tiers.list_tiers(session))
    summaries = [
        PartnerSummary(
            partner=partner,
            tier=tiers.current_tier(session, partner.id, now) if configured else None,
            balance=int(balance or 0) - int(expired or 0),
        )
        for partner, balance, expired in rows
    ]
    return summaries, total


def set_language(
    session: Session, wa_id: str, language: Language, *, actor: str = "service"
) -> Partner:
    """Change the language the partner is answered in (audited); active partners only."""
    with write_transaction(session):
        partner = ensure_active(get_by_wa_id(session, wa_id))
        _change(session, partner, "language", language.value, actor=actor)
    return partner


def set_status(session: Session, wa_id: str, status: PartnerStatus, *, actor: str) -> Partner:
    """Suspend, reinstate or mark a partner as left (audited). Any status may change."""
    with write_transaction(session):
        partner = get_by_wa_id(session, wa_id)
        _change(session, partner, "status", status.value, actor=actor)
    return partner


def _change(session: Session, partner: Partner, attribute: str, value: str, *, actor: str) -> None:
    """Set one attribute and audit it as ``partner.set_<attribute>``; no-op if unchanged."""
    previous = getattr(partner, attribute)
    if previous == value:
        return
    setattr(partner, attribute, value)
    audit.record(
        session,
        actor=actor,
        action=f"partner.set_{attribute}",
        entity="partner",
        entity_id=partner.id,
        details={"from": previous, "to": value},
    )


def create_partner(
    session: Session,
    *,
    wa_id: str,
    name: str,
    role: PartnerRole,
    region: str,
    shop_name: str | None = None,
    parent: Partner | None = None,
    language: Language = Language.ID,
    status: PartnerStatus = PartnerStatus.ACTIVE,
    opted_out: bool = False,
    consent_source: str = "whatsapp",
    now: datetime | None = None,
    actor: str = "service",
) -> Partner:
    """Register a partner with an empty points account and program-terms consent."""
    if not _WA_ID.fullmatch(wa_id):
        raise ValueError("wa_id must be 1-160 of [A-Za-z0-9_.:-], starting and ending alnum")
    now = now or utcnow()
    with write_transaction(session):
        partner = Partner(
            wa_id=wa_id,
            name=name,
            shop_name=shop_name,
            role=role.value,
            region=region,
            parent_id=parent.id if parent else None,
            language=language.value,
            status=status.value,
            opted_out=opted_out,
            created_at=now,
        )
        session.add(partner)
        session.flush()
        ledger.ensure_account(session, partner.id, now)
        session.add(
            ConsentRecord(
                partner_id=partner.id,
                kind="program_terms",
                granted=True,
                source=consent_source,
                created_at=now,
            )
        )
        audit.record(
            session,
            actor=actor,
            action="partner.create",
            entity="partner",
            entity_id=partner.id,
            details={"role": role.value, "region": region},
            now=now,
        )
    return partner
