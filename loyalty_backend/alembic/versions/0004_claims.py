"""Claims: claim images, claims and their lines.

Revision ID: 0004
Revises: 0003
Create Date: 2025-02-01

Self-contained on purpose (no imports from app/). Works on SQLite and PostgreSQL.
The duplicate key of sales claims is a PARTIAL unique index on the normalised invoice
number over the claims that are not rejected (both databases support partial indexes):
of two racing submissions of one invoice, only one can be stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
OPEN_INVOICE_WHERE = "status <> 'rejected'"


def upgrade() -> None:
    op.create_table(
        "claim_image",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("mime_type", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("phash", sa.String(16), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_image")),
    )
    op.create_index(op.f("ix_claim_image_phash"), "claim_image", ["phash"])

    op.create_table(
        "claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_no", sa.String(16), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("invoice_no", sa.String(64), nullable=True),
        sa.Column("invoice_no_normalised", sa.String(64), nullable=True),
        sa.Column("invoice_date", sa.Date(), nullable=True),
        sa.Column("image_id", sa.String(64), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("judged_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decision_reason", sa.String(500), nullable=True),
        sa.CheckConstraint("kind IN ('display', 'sales')", name=op.f("ck_claim_kind")),
        sa.CheckConstraint(
            "status IN ('approved', 'pending_review', 'rejected', 'submitted')",
            name=op.f("ck_claim_status"),
        ),
        sa.CheckConstraint("points >= 0", name=op.f("ck_claim_points_non_negative")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_claim_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["image_id"], ["claim_image.id"], name=op.f("fk_claim_image_id_claim_image")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim")),
        sa.UniqueConstraint("claim_no", name=op.f("uq_claim_claim_no")),
        sa.UniqueConstraint(
            "partner_id", "idempotency_key", name="uq_claim_partner_id_idempotency_key"
        ),
    )
    op.create_index(op.f("ix_claim_image_id"), "claim", ["image_id"])
    op.create_index("ix_claim_partner_id_created_at", "claim", ["partner_id", "created_at"])
    op.create_index("ix_claim_status_created_at", "claim", ["status", "created_at"])
    op.create_index(
        "uq_claim_open_invoice",
        "claim",
        ["invoice_no_normalised"],
        unique=True,
        sqlite_where=sa.text(OPEN_INVOICE_WHERE),
        postgresql_where=sa.text(OPEN_INVOICE_WHERE),
    )

    op.create_table(
        "claim_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("erp_quantity", sa.Integer(), nullable=True),
        sa.Column("match_status", sa.String(16), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_claim_line_quantity_positive")),
        sa.CheckConstraint(
            "match_status IN ('matched', 'no_erp_data', 'not_on_invoice', 'other_customer', "
            "'quantity_above', 'unchecked')",
            name=op.f("ck_claim_line_match_status"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_claim_line_claim_id_claim")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_line")),
    )
    op.create_index(op.f("ix_claim_line_claim_id"), "claim_line", ["claim_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_claim_line_claim_id"), table_name="claim_line")
    op.drop_table("claim_line")
    op.drop_index("uq_claim_open_invoice", table_name="claim")
    op.drop_index("ix_claim_status_created_at", table_name="claim")
    op.drop_index("ix_claim_partner_id_created_at", table_name="claim")
    op.drop_index(op.f("ix_claim_image_id"), table_name="claim")
    op.drop_table("claim")
    op.drop_index(op.f("ix_claim_image_phash"), table_name="claim_image")
    op.drop_table("claim_image")
