from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime


class ConsentRecord(Base):
    """Append-only: the latest record of a kind is the partner's current answer."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # "program_terms", "marketing", ...
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(32))  # "whatsapp", "admin", "seed", ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
