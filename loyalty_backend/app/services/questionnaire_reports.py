"""What trainers and the program team read about quizzes and surveys (admin API).

``list_attempts``: attempts (a quiz's tries, a survey's responses) newest first, each
with its partner and every answer with its timing. ``summary``: per question, how it
was answered: for a quiz the share right and how often each choice was picked; for a
survey the choice counts, the 1-5 distribution and average, and the latest texts.

Questions are grouped by their ``question_key`` (app/commands/load_questionnaires.py), so
the shuffle does not matter; a question reworded in the file is a new key. Texts come from
the questionnaire as loaded now, or, for a question no longer in the file, from an
attempt that showed it.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Partner, Questionnaire, QuestionnaireAnswer
from app.models import QuestionnaireAttempt as Attempt
from app.models.questionnaire import AttemptStatus, QuestionKind, QuestionnaireKind
from app.services.questionnaires import SCALE_MAX, SCALE_MIN, get_questionnaire

LATEST_TEXTS = 20


@dataclass(frozen=True)
class AttemptRow:
    attempt: Attempt
    partner: Partner
    answers: list[QuestionnaireAnswer]


def list_attempts(
    session: Session,
    kind: QuestionnaireKind,
    code: str,
    *,
    status: AttemptStatus | None = None,
    flagged: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AttemptRow], int]:
    """Attempts newest first, and how many match; ``flagged``: with too-fast answers."""
    questionnaire = get_questionnaire(session, kind, code)
    where = [Attempt.questionnaire_id == questionnaire.id]
    if status is not None:
        where.append(Attempt.status == status.value)
    if flagged is not None:
        where.append(Attempt.too_fast_answers > 0 if flagged else Attempt.too_fast_answers == 0)
    total = session.scalar(select(func.count()).select_from(Attempt).where(*where)) or 0
    rows = session.execute(
        select(Attempt, Partner)
        .join(Partner, Partner.id == Attempt.partner_id)
        .where(*where)
        .order_by(Attempt.started_at.desc(), Attempt.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    answers: dict[int, list[QuestionnaireAnswer]] = defaultdict(list)
    ids = [attempt.id for attempt, _ in rows]
    if ids:
        for answer in session.scalars(
            select(QuestionnaireAnswer)
            .where(QuestionnaireAnswer.attempt_id.in_(ids))
            .order_by(QuestionnaireAnswer.attempt_id, QuestionnaireAnswer.question_no)
        ):
            answers[answer.attempt_id].append(answer)
    return [AttemptRow(a, p, answers[a.id]) for a, p in rows], total


@dataclass
class ChoiceSummary:
    index: int  # position in the content file
    text: dict[str, str]
    correct: bool | None
    picked: int = 0


@dataclass
class QuestionSummary:
    question_key: str
    kind: str
    text: dict[str, str]
    in_content: bool  # still in the file as loaded now
    answers: int = 0
    correct: int | None = None
    too_fast: int = 0
    total_ms: int = 0
    choices: list[ChoiceSummary] = field(default_factory=list)
    scale_counts: dict[int, int] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)  # newest first

    @property
    def correct_share(self) -> float | None:
        if self.correct is None or not self.answers:
            return None
        return round(self.correct / self.answers, 3)

    @property
    def average_seconds(self) -> float | None:
        return round(self.total_ms / self.answers / 1000, 1) if self.answers else None

    @property
    def scale_average(self) -> float | None:
        count = sum(self.scale_counts.values())
        if not count:
            return None
        return round(sum(v * n for v, n in self.scale_counts.items()) / count, 2)


@dataclass(frozen=True)
class Summary:
    questionnaire: Questionnaire
    attempts: int
    completed: int
    passed: int | None  # quiz only
    partners: int
    flagged_attempts: int
    points_awarded: int
    questions: list[QuestionSummary]

    @property
    def pass_rate(self) -> float | None:
        if self.passed is None or not self.completed:
            return None
        return round(self.passed / self.completed, 3)


def _question_summary(question: dict[str, Any], in_content: bool, is_quiz: bool) -> QuestionSummary:
    choices = [
        ChoiceSummary(
            index=choice.get("index", n),
            text=choice["text"],
            correct=bool(choice.get("correct")) if is_quiz else None,
        )
        for n, choice in enumerate(question.get("choices") or [])
    ]
    choices.sort(key=lambda c: c.index)
    summary = QuestionSummary(
        question_key=question["key"],
        kind=question["kind"],
        text=question["text"],
        in_content=in_content,
        correct=0 if is_quiz else None,
        choices=choices,
    )
    if question["kind"] == QuestionKind.SCALE:
        summary.scale_counts = dict.fromkeys(range(SCALE_MIN, SCALE_MAX + 1), 0)
    return summary


def summary(session: Session, kind: QuestionnaireKind, code: str) -> Summary:
    """Per-question figures over every answer ever given to this questionnaire."""
    questionnaire = get_questionnaire(session, kind, code)
    is_quiz = kind is QuestionnaireKind.QUIZ
    by_key: dict[str, QuestionSummary] = {
        q["key"]: _question_summary(q, True, is_quiz) for q in questionnaire.questions
    }
    attempts = Attempt.questionnaire_id == questionnaire.id
    counts = session.execute(
        select(
            func.count(),
            func.count(Attempt.completed_at),
            func.count(func.distinct(Attempt.partner_id)),
            func.coalesce(func.sum(Attempt.points_awarded), 0),
        ).where(attempts)
    ).one()
    passed = session.scalar(
        select(func.count()).select_from(Attempt).where(attempts, Attempt.passed.is_(True))
    )
    flagged = session.scalar(
        select(func.count()).select_from(Attempt).where(attempts, Attempt.too_fast_answers > 0)
    )
    answers = session.execute(
        select(QuestionnaireAnswer, Attempt.id)
        .join(Attempt, Attempt.id == QuestionnaireAnswer.attempt_id)
        .where(attempts)
        .order_by(QuestionnaireAnswer.answered_at.desc(), QuestionnaireAnswer.id.desc())
    ).all()
    for answer, attempt_id in answers:
        item = by_key.get(answer.question_key)
        if item is None:  # retired from the file: the attempt that showed it has its text
            shown = session.get(Attempt, attempt_id)
            question = next(
                q for q in (shown.questions if shown else []) if q["key"] == answer.question_key
            )
            item = by_key[answer.question_key] = _question_summary(question, False, is_quiz)
        item.answers += 1
        item.total_ms += answer.elapsed_ms
        item.too_fast += 1 if answer.too_fast else 0
        if answer.is_correct and item.correct is not None:
            item.correct += 1
        if answer.choice_index is not None:
            for choice in item.choices:
                if choice.index == answer.choice_index:
                    choice.picked += 1
        if answer.scale_value is not None:
            item.scale_counts[answer.scale_value] = item.scale_counts.get(answer.scale_value, 0) + 1
        if answer.text_value is not None and len(item.texts) < LATEST_TEXTS:
            item.texts.append(answer.text_value)
    return Summary(
        questionnaire=questionnaire,
        attempts=counts[0],
        completed=counts[1],
        passed=passed if is_quiz else None,
        partners=counts[2],
        flagged_attempts=flagged or 0,
        points_awarded=int(counts[3]),
        questions=list(by_key.values()),
    )
