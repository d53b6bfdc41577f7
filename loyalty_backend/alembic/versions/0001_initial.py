"""Initial schema: partners, consent, tiers, points ledger, audit log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Self-contained on purpose (no imports from app/): a migration must keep meaning what
it meant when it was written. Works on SQLite and PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

# Tables nobody may UPDATE or DELETE rows of: the ledger and its trail.
APPEND_ONLY = ("ledger_entry", "lot_consumption", "audit_log", "consent_record")

REASONS = (
    "'adjustment', 'campaign_bonus', 'claim', 'expiry', 'quiz', 'redemption', "
    "'referral', 'welcome_bonus'"
)


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wa_id", sa.String(160), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("shop_name", sa.String(120), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opted_out", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "role IN ('distributor', 'field_seller', 'retailer', 'wholesaler')",
            name=op.f("ck_partner_role"),
        ),
        sa.CheckConstraint("language IN ('en', 'id')", name=op.f("ck_partner_language")),
        sa.CheckConstraint(
            "status IN ('active', 'left', 'suspended')", name=op.f("ck_partner_status")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["partner.id"], name=op.f("fk_partner_parent_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("wa_id", name=op.f("uq_partner_wa_id")),
    )
    op.create_index(op.f("ix_partner_parent_id"), "partner", ["parent_id"])

    op.create_table(
        "consent_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_consent_record_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_record")),
    )
    op.create_index(op.f("ix_consent_record_partner_id"), "consent_record", ["partner_id"])

    op.create_table(
        "tier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("min_points", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("multiplier_percent", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.CheckConstraint("min_points >= 0", name=op.f("ck_tier_min_points_non_negative")),
        sa.CheckConstraint("window_days > 0", name=op.f("ck_tier_window_days_positive")),
        sa.CheckConstraint("multiplier_percent > 0", name=op.f("ck_tier_multiplier_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier")),
        sa.UniqueConstraint("code", name=op.f("uq_tier_code")),
        sa.UniqueConstraint("rank", name=op.f("uq_tier_rank")),
    )

    op.create_table(
        "points_account",
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("lifetime_earned", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_points_account_balance_non_negative")),
        sa.CheckConstraint(
            "lifetime_earned >= 0", name=op.f("ck_points_account_lifetime_earned_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_points_account_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_points_account")),
    )

    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("reference_type", sa.String(32), nullable=False),
        sa.Column("reference_id", sa.String(64), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("delta <> 0", name=op.f("ck_ledger_entry_delta_non_zero")),
        sa.CheckConstraint(
            "balance_after >= 0", name=op.f("ck_ledger_entry_balance_after_non_negative")
        ),
        sa.CheckConstraint(f"reason IN ({REASONS})", name=op.f("ck_ledger_entry_reason")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_ledger_entry_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entry_idempotency_key")),
    )
    op.create_index(
        "ix_ledger_entry_partner_id_created_at", "ledger_entry", ["partner_id", "created_at"]
    )

    op.create_table(
        "points_lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("points_earned", sa.Integer(), nullable=False),
        sa.Column("points_remaining", sa.Integer(), nullable=False),
        sa.Column("earned_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.CheckConstraint("points_earned > 0", name=op.f("ck_points_lot_points_earned_positive")),
        sa.CheckConstraint(
            "points_remaining >= 0 AND points_remaining <= points_earned",
            name=op.f("ck_points_lot_points_remaining_range"),
        ),
        sa.ForeignKeyConstraint(
            ["ledger_entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_points_lot_ledger_entry_id_ledger_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_points_lot_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_lot")),
        sa.UniqueConstraint("ledger_entry_id", name=op.f("uq_points_lot_ledger_entry_id")),
    )
    op.create_index(
        "ix_points_lot_partner_id_expires_at", "points_lot", ["partner_id", "expires_at"]
    )

    op.create_table(
        "lot_consumption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_lot_consumption_points_positive")),
        sa.ForeignKeyConstraint(
            ["ledger_entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_lot_consumption_ledger_entry_id_ledger_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["points_lot.id"], name=op.f("fk_lot_consumption_lot_id_points_lot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_consumption")),
        sa.UniqueConstraint("lot_id", "ledger_entry_id", name="uq_lot_consumption_lot_entry"),
    )
    op.create_index(op.f("ix_lot_consumption_lot_id"), "lot_consumption", ["lot_id"])
    op.create_index(
        op.f("ix_lot_consumption_ledger_entry_id"), "lot_consumption", ["ledger_entry_id"]
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_created_at"), "audit_log", ["created_at"])

    _create_append_only_triggers()


def _create_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION mitra_reject_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'restrict_violation';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION mitra_reject_change()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def _drop_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS mitra_reject_change()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("audit_log")
    op.drop_table("lot_consumption")
    op.drop_table("points_lot")
    op.drop_table("ledger_entry")
    op.drop_table("points_account")
    op.drop_table("tier")
    op.drop_table("consent_record")
    op.drop_table("partner")
