"""Hand-off to a person: support console users, their sessions, and hand-offs (issue 20).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Self-contained on purpose (no imports from app/). Works on SQLite and PostgreSQL. A
partner has at most one open (waiting or active) hand-off: a PARTIAL unique index, which
both databases enforce, so racing requests open one. Console users are created by
``python -m app.initial_data`` (demo logins) or by an operator, not here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
OPEN_HANDOFF_WHERE = "status IN ('active', 'waiting')"


def upgrade() -> None:
    op.create_table(
        "console_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("role IN ('admin', 'agent')", name=op.f("ck_console_user_role")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_console_user_email_lower_case")),
        sa.CheckConstraint(
            "failed_logins >= 0", name=op.f("ck_console_user_failed_logins_non_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_user")),
        sa.UniqueConstraint("email", name=op.f("uq_console_user_email")),
    )

    op.create_table(
        "console_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["console_user.id"], name=op.f("fk_console_session_user_id_console_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_session_token_hash")),
    )
    op.create_index(op.f("ix_console_session_user_id"), "console_session", ["user_id"])

    op.create_table(
        "handoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("wa_id", sa.String(160), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("last_message", sa.String(4096), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("waiting_since", TS, nullable=False),
        sa.Column("timeout_notified_at", TS, nullable=True),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled', 'closed', 'waiting')",
            name=op.f("ck_handoff_status"),
        ),
        sa.CheckConstraint(
            "reason IN ('after_hours', 'misunderstood', 'requested')",
            name=op.f("ck_handoff_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_handoff_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by"], ["console_user.id"], name=op.f("fk_handoff_claimed_by_console_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_handoff_idempotency_key")),
    )
    op.create_index(
        "uq_handoff_open_per_partner",
        "handoff",
        ["partner_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_HANDOFF_WHERE),
        postgresql_where=sa.text(OPEN_HANDOFF_WHERE),
    )
    op.create_index("ix_handoff_status_requested_at", "handoff", ["status", "requested_at"])
    op.create_index("ix_handoff_partner_id_requested_at", "handoff", ["partner_id", "requested_at"])
    op.create_index(op.f("ix_handoff_claimed_by"), "handoff", ["claimed_by"])


def downgrade() -> None:
    op.drop_index(op.f("ix_handoff_claimed_by"), table_name="handoff")
    op.drop_index("ix_handoff_partner_id_requested_at", table_name="handoff")
    op.drop_index("ix_handoff_status_requested_at", table_name="handoff")
    op.drop_index("uq_handoff_open_per_partner", table_name="handoff")
    op.drop_table("handoff")
    op.drop_index(op.f("ix_console_session_user_id"), table_name="console_session")
    op.drop_table("console_session")
    op.drop_table("console_user")
