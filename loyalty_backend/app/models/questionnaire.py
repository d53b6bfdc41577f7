"""Training quizzes and surveys (issue 19): one engine, three tables.

- ``questionnaire``: a quiz module or a survey, as loaded from ``content/quizzes/*.yml``
  and ``content/surveys/*.yml`` by ``python -m app.commands.load_questionnaires``. The
  questions are kept as JSON in the shape the loader writes (see that module). A
  questionnaire taken out of its folder is deactivated, never deleted: attempts refer to it.
- ``questionnaire_attempt``: one partner taking one questionnaire once. The questions
  are COPIED into the attempt when it starts, in the order (and with the choice order)
  shown to that partner, so a trainer editing the file never changes an attempt under
  way, and every answer can be scored against exactly what the partner saw. The place
  (``answered``: how many questions are answered) lives here, so a partner who leaves
  mid-quiz resumes at the same question whatever happened to the chat.
- ``questionnaire_answer``: every answer with when it came and how long after its
  question was shown (``elapsed_ms``); ``too_fast`` marks answers quicker than a person
  can read the question (app/services/questionnaires.py says how that is judged).

Invariants the database keeps:
- at most one attempt in progress per partner and questionnaire (a PARTIAL unique index),
  so two racing "start" requests resume one attempt instead of opening two;
- one answer per question of an attempt, so a replayed answer is never counted twice.
Points go through the ledger (reason ``quiz``), keyed once per questionnaire and partner.
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
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import sql_in


class QuestionnaireKind(StrEnum):
    QUIZ = "quiz"  # a training module: a lesson, then scored multiple-choice questions
    SURVEY = "survey"  # a questionnaire: answers are stored, nothing is scored


class QuestionKind(StrEnum):
    CHOICE = "choice"  # pick one labelled choice (A, B, C, ...); quiz questions are all this
    SCALE = "scale"  # a number from 1 to 5
    TEXT = "text"  # free text


class AttemptStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


# Attempts that hold a partner's place in a questionnaire.
OPEN_ATTEMPT_WHERE = "status = 'in_progress'"


class Questionnaire(Base):
    """A quiz module or a survey. Texts are ``{"id": ..., "en": ...}``; empty audience
    lists mean everyone; ``starts_on``/``ends_on`` are inclusive WIB dates."""

    __tablename__ = "questionnaire"
    __table_args__ = (
        UniqueConstraint("kind", "code", name="uq_questionnaire_kind_code"),
        CheckConstraint(f"kind IN ({sql_in(QuestionnaireKind)})", name="kind"),
        CheckConstraint("points >= 0", name="points_non_negative"),
        CheckConstraint(
            "pass_mark_percent IS NULL OR (pass_mark_percent > 0 AND pass_mark_percent <= 100)",
            name="pass_mark_percent_range",
        ),
        CheckConstraint(
            "attempts_per_day IS NULL OR attempts_per_day > 0", name="attempts_per_day_positive"
        ),
        CheckConstraint(
            "starts_on IS NULL OR ends_on IS NULL OR starts_on <= ends_on", name="window"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The lesson of a quiz, the introduction of a survey.
    intro: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Optional picture or document sent with the lesson: {"type", "url", "filename"?}.
    media: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Quiz: credited on the first pass. Survey: the thank-you (0: none).
    points: Mapped[int] = mapped_column(Integer, default=0)
    # Quiz only: the share of questions to get right, as a whole percent (0.8 -> 80).
    pass_mark_percent: Mapped[int | None] = mapped_column(Integer)
    # Quiz only: attempts a partner may start per WIB day.
    attempts_per_day: Mapped[int | None] = mapped_column(Integer)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    tiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Where it came from, for people reading the admin API ("content/quizzes/x.yml").
    source: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuestionnaireAttempt(Base):
    __tablename__ = "questionnaire_attempt"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(AttemptStatus)})", name="status"),
        CheckConstraint("answered >= 0", name="answered_non_negative"),
        CheckConstraint("correct >= 0 AND correct <= answered", name="correct_range"),
        CheckConstraint("points_awarded >= 0", name="points_awarded_non_negative"),
        Index(
            "uq_questionnaire_attempt_open",
            "partner_id",
            "questionnaire_id",
            unique=True,
            sqlite_where=text(OPEN_ATTEMPT_WHERE),
            postgresql_where=text(OPEN_ATTEMPT_WHERE),
        ),
        Index(
            "ix_questionnaire_attempt_partner_started",
            "partner_id",
            "questionnaire_id",
            "started_at",
        ),
        Index(
            "ix_questionnaire_attempt_questionnaire_id_started_at",
            "questionnaire_id",
            "started_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaire.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    status: Mapped[str] = mapped_column(String(16), default=AttemptStatus.IN_PROGRESS.value)
    # The questions as this partner sees them (shuffled for a quiz), with the answers.
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    answered: Mapped[int] = mapped_column(Integer, default=0)  # the place: next is answered+1
    correct: Mapped[int] = mapped_column(Integer, default=0)
    # When the question now waiting was shown (start, resume, or the previous answer).
    question_shown_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    score_percent: Mapped[int | None] = mapped_column(Integer)  # quiz, when completed
    passed: Mapped[bool | None] = mapped_column(Boolean)  # quiz, when completed
    points_awarded: Mapped[int] = mapped_column(Integer, default=0)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    too_fast_answers: Mapped[int] = mapped_column(Integer, default=0)
    # For reviewers: [{"code": "too_fast", "question_no", "seconds", "min_seconds"}].
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class QuestionnaireAnswer(Base):
    __tablename__ = "questionnaire_answer"
    __table_args__ = (
        UniqueConstraint(
            "attempt_id", "question_no", name="uq_questionnaire_answer_attempt_id_question_no"
        ),
        CheckConstraint("question_no >= 1", name="question_no_positive"),
        CheckConstraint("elapsed_ms >= 0", name="elapsed_ms_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_attempt.id"), index=True)
    question_no: Mapped[int] = mapped_column(Integer)  # 1-based, in the order shown
    # Stable across attempts whatever the shuffle: groups answers per question for reports.
    question_key: Mapped[str] = mapped_column(String(16), index=True)
    choice_label: Mapped[str | None] = mapped_column(String(1))  # "B", as shown
    choice_index: Mapped[int | None] = mapped_column(Integer)  # position in the content file
    is_correct: Mapped[bool | None] = mapped_column(Boolean)  # quiz only
    scale_value: Mapped[int | None] = mapped_column(Integer)
    text_value: Mapped[str | None] = mapped_column(String(1000))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
    too_fast: Mapped[bool] = mapped_column(Boolean, default=False)
