from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import Language, PartnerRole, PartnerStatus, sql_in


class Partner(Base):
    """A channel partner, addressed by WhatsApp id (which need not be a phone number)."""

    __tablename__ = "partner"
    __table_args__ = (
        CheckConstraint(f"role IN ({sql_in(PartnerRole)})", name="role"),
        CheckConstraint(f"language IN ({sql_in(Language)})", name="language"),
        CheckConstraint(f"status IN ({sql_in(PartnerStatus)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wa_id: Mapped[str] = mapped_column(String(160), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    shop_name: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"), index=True)
    language: Mapped[str] = mapped_column(String(2), default=Language.ID.value)
    status: Mapped[str] = mapped_column(String(16), default=PartnerStatus.ACTIVE.value)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What distributors print on invoices as "Kode Plg"; ERP sales lines carry it.
    erp_customer_code: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    # Where rewards that are goods are shipped; set by the partner's last redemption that
    # gave one (app/services/redemptions.py). None: not known yet.
    address: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped["Partner | None"] = relationship(remote_side=[id])
