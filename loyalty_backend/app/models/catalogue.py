"""The brand's products, the words partners and distributors use for them, and earn rules.

Both are data, loaded from ``content/catalogue.yml`` and ``content/earn_rules.yml`` by
``python -m app.commands.load_content``; what a rule of each kind means is in
``app/services/earn_rules.py``.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import sql_in


class RuleKind(StrEnum):
    """What an earn rule does (app/services/earn_rules.py evaluates them in this order)."""

    BASE = "base"  # points_per_unit x quantity
    SKU_MULTIPLIER = "sku_multiplier"  # campaign: extra percent of the base of some SKUs
    SKU_BONUS = "sku_bonus"  # campaign: fixed points per claim or per unit of some SKUs
    UPSELL = "upsell"  # fixed bonus for the claim that reaches a quantity over a period
    TIER_MULTIPLIER = "tier_multiplier"  # extra percent of the base, by tier
    DISPLAY = "display"  # fixed reward for a display/activity photo claim
    CLAIM_CAP = "claim_cap"  # at most N points per claim
    PERIOD_CAP = "period_cap"  # at most N claim points per partner per period


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (CheckConstraint("points_per_unit >= 0", name="points_per_unit_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # What rule lines and chat messages show ("Kopi Susu Gula Aren"), without the pack size.
    short_name: Mapped[str] = mapped_column(String(80))
    unit: Mapped[str] = mapped_column(String(16))
    points_per_unit: Mapped[int] = mapped_column(Integer)
    is_new: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    synonyms: Mapped[list["ProductSynonym"]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductSynonym.id"
    )


class ProductSynonym(Base):
    __tablename__ = "product_synonym"
    __table_args__ = (UniqueConstraint("product_id", "text", name="uq_product_synonym_text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    text: Mapped[str] = mapped_column(String(120))

    product: Mapped[Product] = relationship(back_populates="synonyms")


class EarnRule(Base):
    """One earn rule or campaign. Empty eligibility lists mean everyone; dates are WIB."""

    __tablename__ = "earn_rule"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(RuleKind)})", name="kind"),
        CheckConstraint(
            "starts_on IS NULL OR ends_on IS NULL OR starts_on <= ends_on", name="window"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    name_id: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    # Inclusive WIB dates, judged on the invoice date (null: open-ended).
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    tiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Order within a kind's stage (lower first); stages themselves are fixed.
    priority: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
