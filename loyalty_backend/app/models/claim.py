"""Claims: a partner's sales or display claim, its lines and the photo it came with.

- A claim is stored (status ``submitted``) and committed before it is judged, so a crash
  between the two never loses it (``app/jobs/rejudge_claims.py`` picks it up again).
- ``claim_no`` ("KLM-000123") is made from the row id inside the inserting transaction:
  unique and gap-tolerant without a database sequence (SQLite has none).
- The duplicate key of sales claims is the normalised invoice number: a PARTIAL unique
  index over the claims that are not rejected. Two racing submissions of one invoice
  cannot both be stored, while a rejected claim frees its invoice for a corrected one.
- ``(partner_id, idempotency_key)`` is unique: a replayed request finds the first claim.
- ``rules``, ``reasons`` and ``signals`` are JSON lists written by the claims service
  (see app/services/claims.py and app/services/fraud.py for their shapes).
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import sql_in


class ClaimKind(StrEnum):
    SALES = "sales"
    DISPLAY = "display"


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"  # stored, not judged yet
    APPROVED = "approved"
    PENDING_REVIEW = "pending_review"
    REJECTED = "rejected"


class LineMatch(StrEnum):
    """How one claimed line compares with the distributor's (ERP) record of the invoice."""

    UNCHECKED = "unchecked"  # not judged yet, or a display claim
    MATCHED = "matched"  # on the invoice, claimed quantity <= recorded
    NO_ERP_DATA = "no_erp_data"  # the invoice is not in the ERP data (yet)
    QUANTITY_ABOVE = "quantity_above"  # on the invoice, but more claimed than recorded
    NOT_ON_INVOICE = "not_on_invoice"  # the SKU is not on that invoice
    OTHER_CUSTOMER = "other_customer"  # the invoice belongs to another customer code


# Claims that hold their invoice number: everything but a rejected claim.
OPEN_INVOICE_WHERE = "status <> 'rejected'"


class ClaimImage(Base):
    """A photo or PDF sent with a claim, stored once per content (id = SHA-256 hex)."""

    __tablename__ = "claim_image"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    mime_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    # 64-bit perceptual hash (imagehash.phash) as 16 hex digits; None if not an image.
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Claim(Base):
    __tablename__ = "claim"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(ClaimKind)})", name="kind"),
        CheckConstraint(f"status IN ({sql_in(ClaimStatus)})", name="status"),
        CheckConstraint("points >= 0", name="points_non_negative"),
        UniqueConstraint(
            "partner_id", "idempotency_key", name="uq_claim_partner_id_idempotency_key"
        ),
        Index(
            "uq_claim_open_invoice",
            "invoice_no_normalised",
            unique=True,
            sqlite_where=text(OPEN_INVOICE_WHERE),
            postgresql_where=text(OPEN_INVOICE_WHERE),
        ),
        Index("ix_claim_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_claim_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Set from the id right after the insert, in the same transaction (never seen NULL).
    claim_no: Mapped[str | None] = mapped_column(String(16), unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ClaimStatus.SUBMITTED.value)
    invoice_no: Mapped[str | None] = mapped_column(String(64))  # as the partner wrote it
    invoice_no_normalised: Mapped[str | None] = mapped_column(String(64))
    invoice_date: Mapped[date | None] = mapped_column(Date)
    image_id: Mapped[str | None] = mapped_column(ForeignKey("claim_image.id"), index=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    judged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))  # "auto" or the reviewer
    decision_reason: Mapped[str | None] = mapped_column(String(500))

    lines: Mapped[list["ClaimLine"]] = relationship(
        back_populates="claim", order_by="ClaimLine.id", lazy="selectin"
    )


class ClaimLine(Base):
    __tablename__ = "claim_line"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(f"match_status IN ({sql_in(LineMatch)})", name="match_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    sku: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    erp_quantity: Mapped[int | None] = mapped_column(Integer)
    match_status: Mapped[str] = mapped_column(String(16), default=LineMatch.UNCHECKED.value)

    claim: Mapped[Claim] = relationship(back_populates="lines")
