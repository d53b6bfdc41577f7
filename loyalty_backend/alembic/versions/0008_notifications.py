"""Notices the program sends first (issue 21): the ``notification`` outbox.

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-04

Self-contained on purpose (no imports from app/). Works on SQLite and PostgreSQL.
``dedupe_key`` is UNIQUE (the same event never queues twice); the notifier finds due rows
by (status, not_before), status webhooks find theirs by wamid, the admin view lists a
partner's by (partner_id, created_at).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
STATUSES = (
    "'cancelled', 'delivered', 'failed', 'handed', 'pending', 'read', 'sending', 'sent', "
    "'suppressed'"
)


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("wa_id", sa.String(160), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("group_key", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("delivery", sa.String(16), nullable=True),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("last_error_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("wamid", sa.String(128), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("handed_at", TS, nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("read_at", TS, nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_notification_status")),
        sa.CheckConstraint(
            "category IN ('marketing', 'service')", name=op.f("ck_notification_category")
        ),
        sa.CheckConstraint(
            "delivery IN ('session', 'template')", name=op.f("ck_notification_delivery")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notification_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_notification_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_dedupe_key")),
    )
    op.create_index("ix_notification_status_not_before", "notification", ["status", "not_before"])
    op.create_index(
        "ix_notification_partner_id_created_at", "notification", ["partner_id", "created_at"]
    )
    op.create_index(op.f("ix_notification_wamid"), "notification", ["wamid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notification_wamid"), table_name="notification")
    op.drop_index("ix_notification_partner_id_created_at", table_name="notification")
    op.drop_index("ix_notification_status_not_before", table_name="notification")
    op.drop_table("notification")
