"""Catalogue, earn rules, ERP sales lines, and partners' ERP customer codes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Self-contained on purpose (no imports from app/). Works on SQLite and PostgreSQL. The
content (products, rules) is loaded by ``python -m app.commands.load_content``, not here:
it is data the brand changes, not schema.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

RULE_KINDS = (
    "'base', 'claim_cap', 'display', 'period_cap', 'sku_bonus', 'sku_multiplier', "
    "'tier_multiplier', 'upsell'"
)


def upgrade() -> None:
    op.add_column("partner", sa.Column("erp_customer_code", sa.String(32), nullable=True))
    op.create_index(
        op.f("ix_partner_erp_customer_code"), "partner", ["erp_customer_code"], unique=True
    )

    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("short_name", sa.String(80), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("points_per_unit", sa.Integer(), nullable=False),
        sa.Column("is_new", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "points_per_unit >= 0", name=op.f("ck_product_points_per_unit_non_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
        sa.UniqueConstraint("sku", name=op.f("uq_product_sku")),
    )

    op.create_table(
        "product_synonym",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(120), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_product_synonym_product_id_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_synonym")),
        sa.UniqueConstraint("product_id", "text", name="uq_product_synonym_text"),
    )
    op.create_index(op.f("ix_product_synonym_product_id"), "product_synonym", ["product_id"])

    op.create_table(
        "earn_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name_id", sa.String(120), nullable=False),
        sa.Column("name_en", sa.String(120), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("skus", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(f"kind IN ({RULE_KINDS})", name=op.f("ck_earn_rule_kind")),
        sa.CheckConstraint(
            "starts_on IS NULL OR ends_on IS NULL OR starts_on <= ends_on",
            name=op.f("ck_earn_rule_window"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earn_rule")),
        sa.UniqueConstraint("code", name=op.f("uq_earn_rule_code")),
    )

    op.create_table(
        "erp_sales_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_no", sa.String(64), nullable=False),
        sa.Column("invoice_no_normalised", sa.String(64), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("customer_code", sa.String(32), nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(14, 2), nullable=False),
        sa.Column("seller", sa.String(120), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_erp_sales_line_quantity_positive")),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("ck_erp_sales_line_unit_price_non_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_sales_line")),
        sa.UniqueConstraint("invoice_no_normalised", "sku", name="uq_erp_sales_line_invoice_sku"),
    )
    op.create_index(
        "ix_erp_sales_line_customer_code_invoice_date",
        "erp_sales_line",
        ["customer_code", "invoice_date"],
    )


def downgrade() -> None:
    op.drop_index("ix_erp_sales_line_customer_code_invoice_date", table_name="erp_sales_line")
    op.drop_table("erp_sales_line")
    op.drop_table("earn_rule")
    op.drop_index(op.f("ix_product_synonym_product_id"), table_name="product_synonym")
    op.drop_table("product_synonym")
    op.drop_table("product")
    op.drop_index(op.f("ix_partner_erp_customer_code"), table_name="partner")
    # SQLite >= 3.35 drops a column in place; a batch rebuild would lose the CHECKs,
    # which SQLite does not reflect.
    op.drop_column("partner", "erp_customer_code")
