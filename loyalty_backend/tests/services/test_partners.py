import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import write_transaction
from app.models import AuditLog, ConsentRecord, PointsAccount
from app.models.enums import Language, PartnerStatus
from app.services import partners, tiers
from app.services.errors import PartnerLeft, PartnerNotFound, PartnerSuspended
from tests.utils import new_partner


def test_create_partner_opens_account_and_records_consent(session: Session) -> None:
    partner = new_partner(session, wa_id="ID.abc:1-2_3")
    account = session.get(PointsAccount, partner.id)
    assert account is not None and account.balance == 0
    consent = session.scalars(select(ConsentRecord)).one()
    assert (consent.kind, consent.granted) == ("program_terms", True)
    assert session.scalars(select(AuditLog.action)).all() == ["partner.create"]
    assert partner.created_at.tzinfo is not None


def test_wa_id_is_unique(session: Session) -> None:
    new_partner(session, wa_id="6281234")
    with pytest.raises(IntegrityError):
        new_partner(session, wa_id="6281234")


def test_lookup_and_language(session: Session) -> None:
    with write_transaction(session):
        tiers.ensure_default_tiers(session)
    parent = new_partner(session, wa_id="parent")
    child = new_partner(session, wa_id="child", parent=parent)
    profile = partners.profile(session, "child")
    assert profile.parent_wa_id == "parent" and profile.partner.id == child.id
    updated = partners.set_language(session, "child", Language.EN)
    assert updated.language == "en"
    with pytest.raises(PartnerNotFound):
        partners.get_by_wa_id(session, "nobody")
    with pytest.raises(PartnerNotFound):
        partners.set_language(session, "nobody", Language.EN)


def test_status_policy(session: Session) -> None:
    with write_transaction(session):
        tiers.ensure_default_tiers(session)
    new_partner(session, wa_id="p1")
    partners.set_status(session, "p1", PartnerStatus.SUSPENDED, actor="admin")
    # Suspended: still readable, profile says so; writes refused.
    assert partners.profile(session, "p1").partner.status == "suspended"
    assert partners.get_member(session, "p1").wa_id == "p1"
    with pytest.raises(PartnerSuspended):
        partners.set_language(session, "p1", Language.EN)
    # Left: not served as a partner at all, but still there for the back office.
    partners.set_status(session, "p1", PartnerStatus.LEFT, actor="admin")
    for call in (
        lambda: partners.profile(session, "p1"),
        lambda: partners.get_member(session, "p1"),
        lambda: partners.set_language(session, "p1", Language.EN),
    ):
        with pytest.raises(PartnerLeft):
            call()
    assert partners.get_by_wa_id(session, "p1").status == "left"
    partners.set_status(session, "p1", PartnerStatus.ACTIVE, actor="admin")
    assert partners.set_language(session, "p1", Language.EN).language == "en"
    changes = session.scalars(
        select(AuditLog.details).where(AuditLog.action == "partner.set_status")
    ).all()
    assert [c["to"] for c in changes] == ["suspended", "left", "active"]
