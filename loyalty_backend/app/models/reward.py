"""Rewards, the voucher codes some of them hand out, and partners' redemptions.

- A ``reward`` is data: loaded from ``content/rewards.yml`` (``source = 'content'``) or
  written through the admin API (``source = 'admin'``). Empty eligibility lists mean
  everyone; ``starts_on``/``ends_on`` are inclusive WIB dates; ``limit_count`` per
  ``limit_period`` (a WIB calendar period) caps how often one partner may redeem it.
- ``stock``: NULL is unlimited. Goods count down with a conditional ``UPDATE ... WHERE
  stock > 0``. Voucher rewards keep ``stock`` NULL: their stock is the number of
  ``available`` codes in their pool that have not expired, so issuing a code never
  updates the shared reward row (a hot row under load).
- A ``voucher_code`` is issued at most once: ``available`` -> ``issued`` (with the
  redemption) -> ``void`` when that redemption is cancelled (the partner has seen the
  code, so it is never issued again). ``redemption.voucher_code_id`` is UNIQUE as well.
  ``voucher_code.redemption_id`` mirrors it without a foreign key, because the two tables
  would otherwise point at each other.
- ``redemption_no`` ("RDM-000123") is made from the row id inside the inserting
  transaction, like claims; ``idempotency_key`` is UNIQUE: of two racing requests with
  one key, one redemption is stored and the other answers with it.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import sql_in


class RewardKind(StrEnum):
    EWALLET = "ewallet"  # phone credit / e-wallet top-up, paid out by the payout provider
    VOUCHER = "voucher"  # a code from the reward's pool, shown at once
    MERCHANDISE = "merchandise"  # goods, shipped
    BUSINESS_SUPPLY = "business_supply"  # goods for the shop, shipped
    CASHBACK = "cashback"  # money, paid out by the payout provider


# How partners see the catalogue: this order of kinds, then cost.
KIND_ORDER = (
    RewardKind.EWALLET,
    RewardKind.VOUCHER,
    RewardKind.MERCHANDISE,
    RewardKind.BUSINESS_SUPPLY,
    RewardKind.CASHBACK,
)
GOODS_KINDS = frozenset({RewardKind.MERCHANDISE, RewardKind.BUSINESS_SUPPLY})
PAYOUT_KINDS = frozenset({RewardKind.EWALLET, RewardKind.CASHBACK})


class LimitPeriod(StrEnum):
    """WIB calendar periods (a week is Monday to Sunday)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class RewardSource(StrEnum):
    CONTENT = "content"  # content/rewards.yml; the loader owns it
    ADMIN = "admin"  # created through the admin API; the loader never touches it


class VoucherStatus(StrEnum):
    AVAILABLE = "available"
    ISSUED = "issued"
    VOID = "void"


class RedemptionStatus(StrEnum):
    REQUESTED = "requested"
    FULFILLED = "fulfilled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


AVAILABLE_CODE_WHERE = "status = 'available'"


class Reward(Base):
    __tablename__ = "reward"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(RewardKind)})", name="kind"),
        CheckConstraint("cost > 0", name="cost_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_non_negative"),
        CheckConstraint("kind <> 'voucher' OR stock IS NULL", name="voucher_stock_is_pool"),
        CheckConstraint(
            "(limit_count IS NULL AND limit_period IS NULL) OR "
            f"(limit_count > 0 AND limit_period IN ({sql_in(LimitPeriod)}))",
            name="limit",
        ),
        CheckConstraint(
            "starts_on IS NULL OR ends_on IS NULL OR starts_on <= ends_on", name="window"
        ),
        CheckConstraint(f"source IN ({sql_in(RewardSource)})", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name_id: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    description_id: Mapped[str] = mapped_column(String(500), default="")
    description_en: Mapped[str] = mapped_column(String(500), default="")
    cost: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)  # NULL: unlimited (vouchers: the pool)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    tiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    limit_count: Mapped[int | None] = mapped_column(Integer)
    limit_period: Mapped[str | None] = mapped_column(String(8))
    # Inclusive WIB dates (null: open-ended).
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    image_url: Mapped[str | None] = mapped_column(String(500))
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    source: Mapped[str] = mapped_column(String(16), default=RewardSource.CONTENT.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VoucherCode(Base):
    __tablename__ = "voucher_code"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(VoucherStatus)})", name="status"),
        UniqueConstraint("reward_id", "code", name="uq_voucher_code_reward_id_code"),
        # What redeeming scans: the available codes of a reward, soonest expiry first.
        Index(
            "ix_voucher_code_available",
            "reward_id",
            "expires_at",
            "id",
            sqlite_where=text(AVAILABLE_CODE_WHERE),
            postgresql_where=text(AVAILABLE_CODE_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("reward.id"))
    code: Mapped[str] = mapped_column(String(64))
    # The last instant the code can be used; a code is never issued once past it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=VoucherStatus.AVAILABLE.value)
    redemption_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Redemption(Base):
    __tablename__ = "redemption"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(RewardKind)})", name="kind"),
        CheckConstraint(f"status IN ({sql_in(RedemptionStatus)})", name="status"),
        CheckConstraint("points_spent > 0", name="points_spent_positive"),
        CheckConstraint("balance_after >= 0", name="balance_after_non_negative"),
        CheckConstraint(
            "refunded_points IS NULL OR refunded_points > 0", name="refunded_points_positive"
        ),
        # Also serves the per-period limit count (a partner's redemptions in a period are
        # few; reward_id is filtered on them): one index less to write per redemption.
        Index("ix_redemption_partner_id_created_at", "partner_id", "created_at"),
        Index("ix_redemption_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Set from the id right after the insert, in the same transaction (never seen NULL).
    redemption_no: Mapped[str | None] = mapped_column(String(16), unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    # No FOREIGN KEY on purpose: on PostgreSQL a foreign key check locks the referenced
    # row (FOR KEY SHARE), and every concurrent redemption of one reward would share that
    # lock on the same hot row (a MultiXact per insert): a fifth of a redemption's server
    # time in the issue 18 bench. The reference still holds: reward_id is read from the
    # reward row in the same transaction, and reward rows cannot be deleted (a trigger,
    # alembic 0009; rewards are deactivated instead).
    reward_id: Mapped[int] = mapped_column(Integer)
    # The reward's kind when it was redeemed (what the status rules follow).
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default=RedemptionStatus.REQUESTED.value)
    points_spent: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    voucher_code_id: Mapped[int | None] = mapped_column(ForeignKey("voucher_code.id"), unique=True)
    # The spend entry (key ``redemption:<redemption_no>``).
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)
    delivery_address: Mapped[str | None] = mapped_column(String(300))
    courier: Mapped[str | None] = mapped_column(String(64))
    tracking_no: Mapped[str | None] = mapped_column(String(64))
    payout_ref: Mapped[str | None] = mapped_column(String(128), unique=True)
    refunded_points: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    reward: Mapped[Reward] = relationship(
        lazy="joined", innerjoin=True, primaryjoin="foreign(Redemption.reward_id) == Reward.id"
    )
    voucher_code: Mapped[VoucherCode | None] = relationship(lazy="joined")
