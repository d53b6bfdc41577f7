"""Training quizzes and surveys: questionnaires, attempts and answers.

Revision ID: 0006
Revises: 0004 (0005_rewards at merge)
Create Date: 2026-11-28

Self-contained on purpose (no imports from app/). Works on SQLite and PostgreSQL.
The content (modules, surveys) is loaded by ``python -m app.commands.load_questionnaires``,
not here. At most one attempt per partner and questionnaire is in progress: a PARTIAL
unique index (both databases support them), so racing starts resume one attempt. Points
use the existing ledger reason ``quiz`` (surveys' thank-you too): no ledger change here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
OPEN_ATTEMPT_WHERE = "status = 'in_progress'"


def upgrade() -> None:
    op.create_table(
        "questionnaire",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("intro", sa.JSON(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("pass_mark_percent", sa.Integer(), nullable=True),
        sa.Column("attempts_per_day", sa.Integer(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('quiz', 'survey')", name=op.f("ck_questionnaire_kind")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_questionnaire_points_non_negative")),
        sa.CheckConstraint(
            "pass_mark_percent IS NULL OR (pass_mark_percent > 0 AND pass_mark_percent <= 100)",
            name=op.f("ck_questionnaire_pass_mark_percent_range"),
        ),
        sa.CheckConstraint(
            "attempts_per_day IS NULL OR attempts_per_day > 0",
            name=op.f("ck_questionnaire_attempts_per_day_positive"),
        ),
        sa.CheckConstraint(
            "starts_on IS NULL OR ends_on IS NULL OR starts_on <= ends_on",
            name=op.f("ck_questionnaire_window"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire")),
        sa.UniqueConstraint("kind", "code", name="uq_questionnaire_kind_code"),
    )

    op.create_table(
        "questionnaire_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("questionnaire_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("question_shown_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("score_percent", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("points_awarded", sa.Integer(), nullable=False),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=True),
        sa.Column("too_fast_answers", sa.Integer(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "status IN ('completed', 'in_progress')", name=op.f("ck_questionnaire_attempt_status")
        ),
        sa.CheckConstraint(
            "answered >= 0", name=op.f("ck_questionnaire_attempt_answered_non_negative")
        ),
        sa.CheckConstraint(
            "correct >= 0 AND correct <= answered",
            name=op.f("ck_questionnaire_attempt_correct_range"),
        ),
        sa.CheckConstraint(
            "points_awarded >= 0",
            name=op.f("ck_questionnaire_attempt_points_awarded_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["questionnaire_id"],
            ["questionnaire.id"],
            name=op.f("fk_questionnaire_attempt_questionnaire_id_questionnaire"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partner.id"], name=op.f("fk_questionnaire_attempt_partner_id_partner")
        ),
        sa.ForeignKeyConstraint(
            ["ledger_entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_questionnaire_attempt_ledger_entry_id_ledger_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_attempt")),
    )
    op.create_index(
        "uq_questionnaire_attempt_open",
        "questionnaire_attempt",
        ["partner_id", "questionnaire_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_ATTEMPT_WHERE),
        postgresql_where=sa.text(OPEN_ATTEMPT_WHERE),
    )
    op.create_index(
        "ix_questionnaire_attempt_partner_started",
        "questionnaire_attempt",
        ["partner_id", "questionnaire_id", "started_at"],
    )
    op.create_index(
        "ix_questionnaire_attempt_questionnaire_id_started_at",
        "questionnaire_attempt",
        ["questionnaire_id", "started_at"],
    )

    op.create_table(
        "questionnaire_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("question_no", sa.Integer(), nullable=False),
        sa.Column("question_key", sa.String(16), nullable=False),
        sa.Column("choice_label", sa.String(1), nullable=True),
        sa.Column("choice_index", sa.Integer(), nullable=True),
        sa.Column("is_correct", sa.Boolean(), nullable=True),
        sa.Column("scale_value", sa.Integer(), nullable=True),
        sa.Column("text_value", sa.String(1000), nullable=True),
        sa.Column("answered_at", TS, nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.Column("too_fast", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "question_no >= 1", name=op.f("ck_questionnaire_answer_question_no_positive")
        ),
        sa.CheckConstraint(
            "elapsed_ms >= 0", name=op.f("ck_questionnaire_answer_elapsed_ms_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["questionnaire_attempt.id"],
            name=op.f("fk_questionnaire_answer_attempt_id_questionnaire_attempt"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_answer")),
        sa.UniqueConstraint(
            "attempt_id", "question_no", name="uq_questionnaire_answer_attempt_id_question_no"
        ),
    )
    op.create_index(
        op.f("ix_questionnaire_answer_attempt_id"), "questionnaire_answer", ["attempt_id"]
    )
    op.create_index(
        op.f("ix_questionnaire_answer_question_key"), "questionnaire_answer", ["question_key"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_questionnaire_answer_question_key"), table_name="questionnaire_answer")
    op.drop_index(op.f("ix_questionnaire_answer_attempt_id"), table_name="questionnaire_answer")
    op.drop_table("questionnaire_answer")
    op.drop_index(
        "ix_questionnaire_attempt_questionnaire_id_started_at", table_name="questionnaire_attempt"
    )
    op.drop_index(
        "ix_questionnaire_attempt_partner_started",
        table_name="questionnaire_attempt",
    )
    op.drop_index("uq_questionnaire_attempt_open", table_name="questionnaire_attempt")
    op.drop_table("questionnaire_attempt")
    op.drop_table("questionnaire")
