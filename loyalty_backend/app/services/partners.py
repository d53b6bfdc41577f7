"""Partners: lookup by WhatsApp id, profile (with tier and parent), language, creation."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.core.clock import utcnow
from app.core.db import write_transaction
from app.models import ConsentRecord, Partner, Tier
from app.models.enums import Language, PartnerRole, PartnerStatus
from app.services import audit, ledger, tiers
from app.services.errors import PartnerNotFound


@dataclass(frozen=True)
class PartnerProfile:
    partner: Partner
    parent_wa_id: str | None
    tier: Tier


def get_by_wa_id(session: Session, wa_id: str) -> Partner:
    partner = session.scalars(select(Partner).where(Partner.wa_id == wa_id)).one_or_none()
    if partner is None:
        raise PartnerNotFound()
    return partner


def profile(session: Session, wa_id: str, now: datetime | None = None) -> PartnerProfile:
    parent = aliased(Partner)
    row = session.execute(
        select(Partner, parent.wa_id)
        .outerjoin(parent, parent.id == Partner.parent_id)
        .where(Partner.wa_id == wa_id)
    ).one_or_none()
    if row is None:
        raise PartnerNotFound()
    partner, parent_wa_id = row
    return PartnerProfile(partner, parent_wa_id, tiers.current_tier(session, partner.id, now))


def set_language(
    session: Session, wa_id: str, language: Language, *, actor: str = "service"
) -> Partner:
    """Change the language the partner is answered in (audited)."""
    with write_transaction(session):
        partner = get_by_wa_id(session, wa_id)
        previous = partner.language
        if previous != language.value:
            partner.language = language.value
            audit.record(
                session,
                actor=actor,
                action="partner.set_language",
                entity="partner",
                entity_id=partner.id,
                details={"from": previous, "to": language.value},
            )
    return partner


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
