"""Sales lines pushed by the brand's ERP/DMS: what was really sold to whom."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime


class ERPSalesLine(Base):
    """One invoice line. ``invoice_no_normalised`` (app/services/erp.py) plus SKU is the key:
    the same line pushed again is a duplicate, whatever the spelling of the number."""

    __tablename__ = "erp_sales_line"
    __table_args__ = (
        UniqueConstraint("invoice_no_normalised", "sku", name="uq_erp_sales_line_invoice_sku"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        Index("ix_erp_sales_line_customer_code_invoice_date", "customer_code", "invoice_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_no: Mapped[str] = mapped_column(String(64))  # as the ERP sent it
    invoice_no_normalised: Mapped[str] = mapped_column(String(64))
    invoice_date: Mapped[date] = mapped_column(Date)
    customer_code: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # rupiah
    seller: Mapped[str | None] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(64))  # "api", "csv:<file>", "seed"
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
