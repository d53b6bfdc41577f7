"""The points ledger: account (cached balance), entries, lots and lot consumption.

Invariants, enforced by constraints where a database can:
- ``points_account.balance`` == sum of the partner's ``ledger_entry.delta`` (same transaction)
- ``points_account.balance`` == sum of the partner's ``points_lot.points_remaining``
- ledger entries, lot consumptions are never updated or deleted (triggers in the migration)
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import LedgerReason, sql_in


class PointsAccount(Base):
    __tablename__ = "points_account"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_non_negative"),
        CheckConstraint("lifetime_earned >= 0", name="lifetime_earned_non_negative"),
    )

    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"), primary_key=True)
    # 64-bit: per-entry amounts are capped, but nothing caps how many entries add up.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="delta_non_zero"),
        CheckConstraint("balance_after >= 0", name="balance_after_non_negative"),
        CheckConstraint(f"reason IN ({sql_in(LedgerReason)})", name="reason"),
        Index("ix_ledger_entry_partner_id_created_at", "partner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    reference_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PointsLot(Base):
    """Points earned by one ledger entry, with what is left of them and when they expire."""

    __tablename__ = "points_lot"
    __table_args__ = (
        CheckConstraint("points_earned > 0", name="points_earned_positive"),
        CheckConstraint(
            "points_remaining >= 0 AND points_remaining <= points_earned",
            name="points_remaining_range",
        ),
        Index("ix_points_lot_partner_id_expires_at", "partner_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    points_earned: Mapped[int] = mapped_column(Integer)
    points_remaining: Mapped[int] = mapped_column(Integer)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LotConsumption(Base):
    """How much of which lot a debit (spend or expiry) took."""

    __tablename__ = "lot_consumption"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        UniqueConstraint("lot_id", "ledger_entry_id", name="uq_lot_consumption_lot_entry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Looked up by lot through uq_lot_consumption_lot_entry (lot_id leads it).
    lot_id: Mapped[int] = mapped_column(ForeignKey("points_lot.id"))
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
