"""Rewards: rewards, voucher codes, redemptions, partners' addresses, ledger reason refund.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Self-contained on purpose (no imports from app/). Works on SQLite and PostgreSQL.

``ledger_entry.reason`` gains ``refund`` (points of a cancelled redemption, given back).
PostgreSQL swaps the CHECK constraint. SQLite cannot alter a CHECK, so the table is
rebuilt inside the migration's transaction: its rows are copied aside, the table is
dropped and created again with the new CHECK, and the rows are copied back. Foreign keys
stay on: ``PRAGMA defer_foreign_keys`` lets the children (lots, lot consumptions) point
at nothing for the moment between the drop and the copy back, and the commit still
fails if any of them is left without its entry. The append-only triggers and the index
go with the old table and are created again.

Downgrade refuses while a ``refund`` entry exists: the ledger is append-only, and the
old CHECK would not hold.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)

OLD_REASONS = (
    "'adjustment', 'campaign_bonus', 'claim', 'expiry', 'quiz', 'redemption', "
    "'referral', 'welcome_bonus'"
)
NEW_REASONS = (
    "'adjustment', 'campaign_bonus', 'claim', 'expiry', 'quiz', 'redemption', "
    "'referral', 'refund', 'welcome_bonus'"
)
KINDS = "'business_supply', 'cashback', 'ewallet', 'merchandise', 'voucher'"
PERIODS = "'day', 'month', 'quarter', 'week', 'year'"
AVAILABLE_CODE_WHERE = "status = 'available'"
LEDGER_COLUMNS = (
    "id, partner_id, delta, reason, reference_type, reference_id, description, "
    "idempotency_key, balance_after, created_at"
)


def upgrade() -> None:
    _set_ledger_reasons(NEW_REASONS)
    op.add_column("partner", sa.Column("address", sa.String(300), nullable=True))

    op.create_table(
        "reward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name_id", sa.String(120), nullable=False),
        sa.Column("name_en", sa.String(120), nullable=False),
        sa.Column("description_id", sa.String(500), nullable=False),
        sa.Column("description_en", sa.String(500), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("limit_count", sa.Integer(), nullable=True),
        sa.Column("limit_period", sa.String(8), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("image_url", sa.String(500), nullable=True),
        sa.Column("synonyms", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_reward_kind")),
        sa.CheckConstraint("cost > 0", name=op.f("ck_reward_cost_positive")),
        sa.CheckConstraint(
            "stock IS NULL OR stock >= 0", name=op.f("ck_reward_stock_non_negative")
        ),
        sa.CheckConstraint(
            "kind <> 'voucher' OR stock IS NULL", name=op.f("ck_reward_voucher_stock_is_pool")
        ),
        sa.CheckConstraint(
            "(limit_count IS NULL AND limit_period IS NULL) OR "
            f"(limit_count > 0 AND limit_period IN ({PERIODS}))",
            name=op.f("ck_reward_limit"),
        ),
        sa.CheckConstraint(
            "starts_on IS NULL OR ends_on IS NULL OR starts_on <= ends_on",
            name=op.f("ck_reward_window"),
        ),
        sa.CheckConstraint("source IN ('admin', 'content')", name=op.f("ck_reward_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward")),
        sa.UniqueConstraint("code", name=op.f("uq_reward_code")),
    )

    op.create_table(
        "voucher_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reward_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("redemption_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("issued_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('available', 'issued', 'void')", name=op.f("ck_voucher_code_status")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["reward.id"], name=op.f("fk_voucher_code_reward_id_reward")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_code")),
        sa.UniqueConstraint("reward_id", "code", name="uq_voucher_code_reward_id_code"),
    )
    op.create_index(op.f("ix_voucher_code_redemption_id"), "voucher_code", ["redemption_id"])
    op.create_index(
        "ix_voucher_code_available",
        "voucher_code",
        ["reward_id", "expires_at", "id"],
        sqlite_where=sa.text(AVAILABLE_CODE_WHERE),
        postgresql_where=sa.text(AVAILABLE_CODE_WHERE),
    )

    op.create_table(
        "redemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("redemption_no", sa.String(16), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("reward_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("points_spent", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("voucher_code_id", sa.Integer(), nullable=True),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=True),
        sa.Column("delivery_address", sa.String(300), nullable=True),
        sa.Column("courier", sa.String(64), nullable=True),
        sa.Column("tracking_no", sa.String(64), nullable=True),
        sa.Column("payout_ref", sa.String(128), nullable=True),
        sa.Column("refunded_points", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_redemption_kind")),
        sa.CheckConstraint(
            "status IN ('cancelled', 'delivered', 'fulfilled', 'requested', 'shipped')",
            name=op.f("ck_redemption_status"),
        ),
        sa.CheckConstraint("points_spent > 0", name=op.f("ck_redemption_points_spent_positive")),
        sa.CheckConstraint(
            "balance_after >= 0", name=op.f("ck_redemption_balance_after_non_negative")
        ),
        sa.CheckConstraint(
            "refunded_points IS NULL OR refunded_points > 0",
            name=op.f("ck_redemption_refunded_points_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_redemption_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["reward.id"], name=op.f("fk_redemption_reward_id_reward")
        ),
        sa.ForeignKeyConstraint(
            ["voucher_code_id"],
            ["voucher_code.id"],
            name=op.f("fk_redemption_voucher_code_id_voucher_code"),
        ),
        sa.ForeignKeyConstraint(
            ["ledger_entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_redemption_ledger_entry_id_ledger_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption")),
        sa.UniqueConstraint("redemption_no", name=op.f("uq_redemption_redemption_no")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_redemption_idempotency_key")),
        sa.UniqueConstraint("voucher_code_id", name=op.f("uq_redemption_voucher_code_id")),
        sa.UniqueConstraint("ledger_entry_id", name=op.f("uq_redemption_ledger_entry_id")),
        sa.UniqueConstraint("payout_ref", name=op.f("uq_redemption_payout_ref")),
    )
    op.create_index(
        "ix_redemption_partner_id_created_at", "redemption", ["partner_id", "created_at"]
    )
    op.create_index(
        "ix_redemption_partner_id_reward_id_created_at",
        "redemption",
        ["partner_id", "reward_id", "created_at"],
    )
    op.create_index("ix_redemption_status_created_at", "redemption", ["status", "created_at"])
    op.create_index(op.f("ix_redemption_updated_at"), "redemption", ["updated_at"])


def downgrade() -> None:
    refunds = op.get_bind().execute(
        sa.text("SELECT count(*) FROM ledger_entry WHERE reason = 'refund'")
    )
    if refunds.scalar_one():
        raise RuntimeError(
            "cannot downgrade below 0005: the ledger holds 'refund' entries, and ledger "
            "entries are never deleted"
        )
    op.drop_index(op.f("ix_redemption_updated_at"), table_name="redemption")
    op.drop_index("ix_redemption_status_created_at", table_name="redemption")
    op.drop_index("ix_redemption_partner_id_reward_id_created_at", table_name="redemption")
    op.drop_index("ix_redemption_partner_id_created_at", table_name="redemption")
    op.drop_table("redemption")
    op.drop_index("ix_voucher_code_available", table_name="voucher_code")
    op.drop_index(op.f("ix_voucher_code_redemption_id"), table_name="voucher_code")
    op.drop_table("voucher_code")
    op.drop_table("reward")
    # SQLite >= 3.35 drops a column in place; a batch rebuild would lose the CHECKs,
    # which SQLite does not reflect.
    op.drop_column("partner", "address")
    _set_ledger_reasons(OLD_REASONS)


# --- the CHECK on ledger_entry.reason -------------------------------------------------------


def _set_ledger_reasons(reasons: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_constraint(op.f("ck_ledger_entry_reason"), "ledger_entry", type_="check")
        op.create_check_constraint(
            op.f("ck_ledger_entry_reason"), "ledger_entry", f"reason IN ({reasons})"
        )
    elif dialect == "sqlite":
        _rebuild_sqlite_ledger_entry(reasons)
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(dialect)


def _rebuild_sqlite_ledger_entry(reasons: str) -> None:
    """Create ``ledger_entry`` again with another reason CHECK (module docstring)."""
    op.execute("PRAGMA defer_foreign_keys = ON")  # until this transaction ends
    op.execute("CREATE TABLE _ledger_entry_0005 AS SELECT * FROM ledger_entry")
    op.execute("DROP TABLE ledger_entry")  # its triggers and index go with it
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
        sa.CheckConstraint(f"reason IN ({reasons})", name=op.f("ck_ledger_entry_reason")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_ledger_entry_partner_id_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entry_idempotency_key")),
    )
    op.execute(
        f"INSERT INTO ledger_entry ({LEDGER_COLUMNS}) "
        f"SELECT {LEDGER_COLUMNS} FROM _ledger_entry_0005 ORDER BY id"
    )
    op.execute("DROP TABLE _ledger_entry_0005")
    op.create_index(
        "ix_ledger_entry_partner_id_created_at", "ledger_entry", ["partner_id", "created_at"]
    )
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER ledger_entry_no_{event.lower()} BEFORE {event} ON ledger_entry "
            "BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only'); END"
        )
