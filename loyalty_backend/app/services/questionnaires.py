"""Training quizzes and surveys: one engine (issue 19).

What a partner may take
    A questionnaire is *offered* to a partner when it is active, today (WIB) is inside its
    window, and the partner's role, region, current tier and language are in its audience
    (an empty list means everyone). ``offers`` lists them with the partner's standing.

Taking one
    ``start`` opens an attempt, or resumes the one in progress: the place is the attempt's
    ``answered`` count in the database, so a partner who left mid-quiz, or whose chat lost
    its state (a Rasa restart), gets the same question again. A new attempt copies the
    questions; a quiz shuffles their order and each question's choices (per attempt), a
    survey keeps the designer's order. Quizzes allow ``attempts_per_day`` new attempts per
    WIB day (resuming is not a new attempt; a retry after failing is one); a survey is
    answered once. At most one attempt per partner and questionnaire is in progress (a
    partial unique index): racing starts resume the same attempt.

Answering
    ``answer`` takes the answer to question ``question_no`` of the attempt, as the label
    shown ("B"), a scale value ("4") or text. Scoring happens here only. Answering a
    question already answered is a replay: the recorded outcome comes back and nothing
    changes (a double tap, a retried request). An answer to a later question than the one
    waiting is refused (``OutOfOrder``). The attempt row is locked while an answer is
    taken (SELECT ... FOR UPDATE on PostgreSQL; SQLite writers run one at a time).

    Each answer stores how long after its question was shown it came. An answer quicker
    than ``TAP_SECONDS`` plus the question's and choices' words at
    ``READING_WORDS_PER_SECOND`` (about 480 words a minute, skimming speed) is marked
    ``too_fast`` and the attempt is flagged for reviewers; the score is not changed.

Finishing
    A quiz is passed when ``correct * 100 >= pass_mark_percent * questions``. Its points
    are credited on the partner's FIRST pass of that module only, through the ledger
    (reason ``quiz``, key ``quiz:<code>:<partner id>``), in the transaction that records
    the last answer: the unique key makes it once per module and partner, whatever races.
    A survey's thank-you points (if any) are credited the same way, once per survey, with
    reason ``quiz`` (no separate ledger reason; reference type ``survey``) and key
    ``quiz:survey:<code>:<partner id>`` (module codes cannot contain ``:``, so the two
    key shapes never meet).
    No ``points_credited`` notice (the chat's answer already says the points); a
    ``tier_up`` notice when a quiz's points lift the tier is queued in that same
    transaction (issue 21).
"""

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_date, wib_start_of_day
from app.core.db import in_write_transaction, write_transaction
from app.models import LedgerEntry, Partner, Questionnaire, QuestionnaireAnswer
from app.models import QuestionnaireAttempt as Attempt
from app.models.enums import LedgerReason
from app.models.questionnaire import AttemptStatus, QuestionKind, QuestionnaireKind
from app.services import audit, ledger, notifications, partners, tiers
from app.services.ledger import KeyNamespace
from app.services.questionnaire_errors import (
    AlreadyCompleted,
    AttemptLimitReached,
    AttemptNotFound,
    InvalidAnswer,
    NotOffered,
    OutOfOrder,
    QuestionnaireNotFound,
)

LABELS = "ABCDEFGHIJ"  # choice labels, in the order shown
SCALE_MIN, SCALE_MAX = 1, 5
READING_WORDS_PER_SECOND = 8.0
TAP_SECONDS = 1.0
DESCRIPTION_MAX = 200  # ledger_entry.description

_secure = random.SystemRandom()


# --- what a partner may take -------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """A questionnaire offered to a partner, with where the partner stands."""

    questionnaire: Questionnaire
    in_progress: Attempt | None
    first_pass: Attempt | None  # quiz: the first passed attempt
    completed: Attempt | None  # survey: the answered response
    attempts_today: int
    attempts_left_today: int | None  # quiz only

    @property
    def available_until(self) -> date | None:
        return self.questionnaire.ends_on


def _audience_matches(
    questionnaire: Questionnaire, partner: Partner, tier_code: Callable[[], str], today: date
) -> bool:
    if not questionnaire.active:
        return False
    if questionnaire.starts_on and today < questionnaire.starts_on:
        return False
    if questionnaire.ends_on and today > questionnaire.ends_on:
        return False
    if questionnaire.roles and partner.role not in questionnaire.roles:
        return False
    if questionnaire.regions and partner.region not in questionnaire.regions:
        return False
    if questionnaire.languages and partner.language not in questionnaire.languages:
        return False
    return not questionnaire.tiers or tier_code() in questionnaire.tiers


def _tier_of(session: Session, partner: Partner, now: datetime) -> Callable[[], str]:
    """The partner's current tier code, computed once and only when a filter needs it."""
    found: list[str] = []

    def tier_code() -> str:
        if not found:
            found.append(tiers.current_tier(session, partner.id, now).code)
        return found[0]

    return tier_code


audience_matches = _audience_matches
tier_of = _tier_of


def _day_bounds(today: date) -> tuple[datetime, datetime]:
    return wib_start_of_day(today), wib_start_of_day(today + timedelta(days=1))


def _attempts_on(session: Session, partner_id: int, questionnaire_id: int, today: date) -> int:
    start, end = _day_bounds(today)
    return (
        session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.partner_id == partner_id,
                Attempt.questionnaire_id == questionnaire_id,
                Attempt.started_at >= start,
                Attempt.started_at < end,
            )
        )
        or 0
    )


def _left_today(questionnaire: Questionnaire, attempts_today: int) -> int | None:
    if questionnaire.attempts_per_day is None:
        return None
    return max(0, questionnaire.attempts_per_day - attempts_today)


def _open_attempt(session: Session, partner_id: int, questionnaire_id: int) -> Attempt | None:
    return session.scalars(
        select(Attempt).where(
            Attempt.partner_id == partner_id,
            Attempt.questionnaire_id == questionnaire_id,
            Attempt.status == AttemptStatus.IN_PROGRESS.value,
        )
    ).one_or_none()


def _first_pass(session: Session, partner_id: int, questionnaire_id: int) -> Attempt | None:
    return session.scalars(
        select(Attempt)
        .where(
            Attempt.partner_id == partner_id,
            Attempt.questionnaire_id == questionnaire_id,
            Attempt.passed.is_(True),
        )
        .order_by(Attempt.completed_at, Attempt.id)
        .limit(1)
    ).one_or_none()


def _completed(session: Session, partner_id: int, questionnaire_id: int) -> Attempt | None:
    return session.scalars(
        select(Attempt)
        .where(
            Attempt.partner_id == partner_id,
            Attempt.questionnaire_id == questionnaire_id,
            Attempt.status == AttemptStatus.COMPLETED.value,
        )
        .order_by(Attempt.completed_at, Attempt.id)
        .limit(1)
    ).one_or_none()


def _offer(session: Session, partner: Partner, questionnaire: Questionnaire, today: date) -> Offer:
    attempts_today = _attempts_on(session, partner.id, questionnaire.id, today)
    is_quiz = questionnaire.kind == QuestionnaireKind.QUIZ
    return Offer(
        questionnaire=questionnaire,
        in_progress=_open_attempt(session, partner.id, questionnaire.id),
        first_pass=_first_pass(session, partner.id, questionnaire.id) if is_quiz else None,
        completed=None if is_quiz else _completed(session, partner.id, questionnaire.id),
        attempts_today=attempts_today,
        attempts_left_today=_left_today(questionnaire, attempts_today),
    )


def offers(
    session: Session, partner: Partner, kind: QuestionnaireKind, now: datetime | None = None
) -> list[Offer]:
    """What the partner may take now, in code order, with their standing in each."""
    now = now or utcnow()
    today = wib_date(now)
    tier_code = _tier_of(session, partner, now)
    found = session.scalars(
        select(Questionnaire)
        .where(Questionnaire.kind == kind.value, Questionnaire.active.is_(True))
        .order_by(Questionnaire.code)
    )
    return [
        _offer(session, partner, q, today)
        for q in found
        if _audience_matches(q, partner, tier_code, today)
    ]


def get_questionnaire(session: Session, kind: QuestionnaireKind, code: str) -> Questionnaire:
    questionnaire = session.scalars(
        select(Questionnaire).where(Questionnaire.kind == kind.value, Questionnaire.code == code)
    ).one_or_none()
    if questionnaire is None:
        raise QuestionnaireNotFound(f"no {kind.value} {code!r}")
    return questionnaire


# --- starting and resuming ----------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    attempt: Attempt
    questionnaire: Questionnaire
    resumed: bool  # False: a new attempt
    attempts_left_today: int | None  # quiz: new attempts still allowed today
    already_rewarded: bool  # the partner already got this questionnaire's points


def _snapshot(questionnaire: Questionnaire, rng: random.Random) -> list[dict[str, Any]]:
    """The questions as this attempt shows them; each choice keeps its ``index`` in the file."""
    questions = copy.deepcopy(list(questionnaire.questions))
    shuffle = questionnaire.kind == QuestionnaireKind.QUIZ
    if shuffle:
        rng.shuffle(questions)
    for question in questions:
        order = list(range(len(question.get("choices") or [])))
        if shuffle:
            rng.shuffle(order)
        question["choices"] = [{**question["choices"][i], "index": i} for i in order]
    return questions


def _rewarded(session: Session, key: str) -> bool:
    return (
        session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == key)) is not None
    )


def reward_key(questionnaire: Questionnaire, partner_id: int) -> str:
    """The ledger key of a questionnaire's points for a partner (once, ever)."""
    if questionnaire.kind == QuestionnaireKind.SURVEY:
        return f"{KeyNamespace.QUIZ.value}survey:{questionnaire.code}:{partner_id}"
    return f"{KeyNamespace.QUIZ.value}{questionnaire.code}:{partner_id}"


def _retrying(session: Session, work: Callable[[], Any]) -> Any:
    """Run ``work`` as one writer transaction; once more if a racing request won a unique
    index first (the second run sees what it committed)."""
    if in_write_transaction(session):
        raise RuntimeError("the questionnaire engine runs its own transactions")
    for attempt_no in (1, 2):
        try:
            with write_transaction(session):
                return work()
        except IntegrityError:
            if attempt_no == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def start(
    session: Session,
    partner: Partner,
    kind: QuestionnaireKind,
    code: str,
    *,
    now: datetime | None = None,
    actor: str = "service",
    rng: random.Random | None = None,
) -> Started:
    """Resume the partner's attempt in progress, or open a new one.

    Raises QuestionnaireNotFound, NotOffered, AttemptLimitReached (quiz),
    AlreadyCompleted (survey), PartnerSuspended / PartnerLeft.
    """
    now = now or utcnow()
    partner_id = partner.id

    def work() -> Started:
        member = session.get(Partner, partner_id, populate_existing=True)
        assert member is not None
        partners.ensure_active(member)
        questionnaire = get_questionnaire(session, kind, code)
        today = wib_date(now)
        if not _audience_matches(questionnaire, member, _tier_of(session, member, now), today):
            raise NotOffered(f"{kind.value} {code!r} is not offered to this partner")
        key = reward_key(questionnaire, partner_id)
        current = session.scalars(
            select(Attempt)
            .where(
                Attempt.partner_id == partner_id,
                Attempt.questionnaire_id == questionnaire.id,
                Attempt.status == AttemptStatus.IN_PROGRESS.value,
            )
            .with_for_update()
        ).one_or_none()
        attempts_today = _attempts_on(session, partner_id, questionnaire.id, today)
        if current is not None:
            current.question_shown_at = now  # shown again: its reading time starts now
            session.flush()
            return Started(
                current,
                questionnaire,
                resumed=True,
                attempts_left_today=_left_today(questionnaire, attempts_today),
                already_rewarded=_rewarded(session, key),
            )
        if kind is QuestionnaireKind.SURVEY:
            if _completed(session, partner_id, questionnaire.id) is not None:
                raise AlreadyCompleted()
        elif attempts_today >= (questionnaire.attempts_per_day or 0):
            raise AttemptLimitReached(
                questionnaire.attempts_per_day or 0, today + timedelta(days=1)
            )
        attempt = Attempt(
            questionnaire_id=questionnaire.id,
            partner_id=partner_id,
            status=AttemptStatus.IN_PROGRESS.value,
            questions=_snapshot(questionnaire, rng or _secure),
            answered=0,
            correct=0,
            question_shown_at=now,
            started_at=now,
            points_awarded=0,
            too_fast_answers=0,
            flags=[],
        )
        session.add(attempt)
        session.flush()  # the one-open-attempt index decides here
        audit.record(
            session,
            actor=actor,
            action=f"{kind.value}.start",
            entity="questionnaire_attempt",
            entity_id=attempt.id,
            details={"partner_id": partner_id, "code": code},
            now=now,
        )
        return Started(
            attempt,
            questionnaire,
            resumed=False,
            attempts_left_today=_left_today(questionnaire, attempts_today + 1),
            already_rewarded=_rewarded(session, key),
        )

    return _retrying(session, work)


# --- answering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """How a finished attempt went (quiz fields are None for a survey)."""

    correct: int | None
    questions: int
    score_percent: int | None
    pass_mark_percent: int | None
    passed: bool | None
    points_awarded: int  # credited by this attempt
    first_pass: bool  # quiz: this attempt is the partner's first pass of the module
    already_rewarded: bool  # the points were credited by an earlier attempt
    attempts_left_today: int | None


@dataclass(frozen=True)
class Answered:
    attempt: Attempt
    questionnaire: Questionnaire
    answer: QuestionnaireAnswer
    question: dict[str, Any]  # as shown, with its choices
    replayed: bool  # this question was answered before: nothing changed
    result: Result | None  # when this answer finished the attempt


@dataclass(frozen=True)
class ParsedAnswer:
    choice_position: int | None = None  # 0-based position in the shown choices
    scale_value: int | None = None
    text_value: str | None = None


def parse_answer(question: dict[str, Any], raw: str) -> ParsedAnswer:
    """The answer as the question expects it, or InvalidAnswer."""
    value = raw.strip()
    kind = question.get("kind")
    if kind == QuestionKind.CHOICE:
        labels = LABELS[: len(question["choices"])]
        label = value.upper()
        if len(label) != 1 or label not in labels:
            raise InvalidAnswer(f"answer with one of {', '.join(labels)}")
        return ParsedAnswer(choice_position=labels.index(label))
    if kind == QuestionKind.SCALE:
        if not value.isdigit() or not SCALE_MIN <= int(value) <= SCALE_MAX:
            raise InvalidAnswer(f"answer with a number from {SCALE_MIN} to {SCALE_MAX}")
        return ParsedAnswer(scale_value=int(value))
    limit = int(question.get("max_length") or 1000)
    if not value:
        raise InvalidAnswer("the answer is empty")
    if len(value) > limit:
        raise InvalidAnswer(f"the answer has {len(value)} characters, at most {limit}")
    return ParsedAnswer(text_value=value)


def min_reading_seconds(question: dict[str, Any], language: str) -> float:
    """The quickest a person can read the question and its choices, and tap."""

    def words(text: dict[str, str] | None) -> int:
        if not text:
            return 0
        return len((text.get(language) or text.get("id") or "").split())

    count = words(question.get("text")) + sum(words(c.get("text")) for c in question["choices"])
    return round(TAP_SECONDS + count / READING_WORDS_PER_SECOND, 1)


def _result(
    session: Session, attempt: Attempt, questionnaire: Questionnaire, now: datetime
) -> Result:
    is_quiz = questionnaire.kind == QuestionnaireKind.QUIZ
    earlier_reward = session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(
            Attempt.partner_id == attempt.partner_id,
            Attempt.questionnaire_id == questionnaire.id,
            Attempt.id != attempt.id,
            Attempt.points_awarded > 0,
        )
    )
    first = _first_pass(session, attempt.partner_id, questionnaire.id) if is_quiz else None
    attempts_today = _attempts_on(session, attempt.partner_id, questionnaire.id, wib_date(now))
    return Result(
        correct=attempt.correct if is_quiz else None,
        questions=len(attempt.questions),
        score_percent=attempt.score_percent,
        pass_mark_percent=questionnaire.pass_mark_percent,
        passed=attempt.passed,
        points_awarded=attempt.points_awarded,
        first_pass=bool(attempt.passed) and first is not None and first.id == attempt.id,
        already_rewarded=bool(earlier_reward),
        attempts_left_today=_left_today(questionnaire, attempts_today),
    )


def _credit(
    session: Session,
    attempt: Attempt,
    questionnaire: Questionnaire,
    now: datetime,
    actor: str,
) -> None:
    """Credit the questionnaire's points to the partner, unless they ever got them."""
    key = reward_key(questionnaire, attempt.partner_id)
    if questionnaire.points <= 0 or _rewarded(session, key):
        return
    is_survey = questionnaire.kind == QuestionnaireKind.SURVEY
    label = "Survey" if is_survey else "Quiz"
    tier_before = None if is_survey else notifications.tier_rank(session, attempt.partner_id, now)
    result = ledger.earn(
        session,
        partner_id=attempt.partner_id,
        points=questionnaire.points,
        reason=LedgerReason.QUIZ.value,
        reference_type="survey" if is_survey else "quiz",
        reference_id=questionnaire.code,
        idempotency_key=key,
        description=f"{label}: {questionnaire.title.get('en', questionnaire.code)}"[
            :DESCRIPTION_MAX
        ],
        now=now,
        actor=actor,
        key_owner=KeyNamespace.QUIZ,
    )
    if result.created:
        attempt.points_awarded = questionnaire.points
        attempt.ledger_entry_id = result.entry.id
        partner = session.get(Partner, attempt.partner_id)
        assert partner is not None
        # The partner reads the points in the chat's answer to their last question, so no
        # points_credited notice repeats them; a tier they reach is news, though.
        group = f"attempt:{attempt.id}"
        notifications.notify_tier_up(session, partner, tier_before, group_key=group, now=now)


def _finish(
    session: Session, attempt: Attempt, questionnaire: Questionnaire, now: datetime, actor: str
) -> None:
    attempt.status = AttemptStatus.COMPLETED.value
    attempt.completed_at = now
    total = len(attempt.questions)
    if questionnaire.kind == QuestionnaireKind.QUIZ:
        attempt.score_percent = attempt.correct * 100 // total
        attempt.passed = attempt.correct * 100 >= (questionnaire.pass_mark_percent or 100) * total
        passed_before = session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.partner_id == attempt.partner_id,
                Attempt.questionnaire_id == questionnaire.id,
                Attempt.id != attempt.id,
                Attempt.passed.is_(True),
            )
        )
        if attempt.passed and not passed_before:  # points on the first pass only
            _credit(session, attempt, questionnaire, now, actor)
    else:
        _credit(session, attempt, questionnaire, now, actor)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"{questionnaire.kind}.complete",
        entity="questionnaire_attempt",
        entity_id=attempt.id,
        details={
            "partner_id": attempt.partner_id,
            "code": questionnaire.code,
            "correct": attempt.correct,
            "questions": total,
            "passed": attempt.passed,
            "points_awarded": attempt.points_awarded,
            "too_fast_answers": attempt.too_fast_answers,
        },
        now=now,
    )


def answer(
    session: Session,
    partner: Partner,
    kind: QuestionnaireKind,
    code: str,
    *,
    attempt_id: int,
    question_no: int,
    raw_answer: str,
    now: datetime | None = None,
    actor: str = "service",
) -> Answered:
    """Record the answer to question ``question_no`` (1-based) and score it.

    Raises AttemptNotFound (not this partner's attempt at this questionnaire), OutOfOrder,
    InvalidAnswer, PartnerSuspended / PartnerLeft.
    """
    now = now or utcnow()
    partner_id = partner.id

    def work() -> Answered:
        member = session.get(Partner, partner_id, populate_existing=True)
        assert member is not None
        partners.ensure_active(member)
        attempt = session.scalars(
            select(Attempt)
            .where(Attempt.id == attempt_id, Attempt.partner_id == partner_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        questionnaire = session.get(Questionnaire, attempt.questionnaire_id) if attempt else None
        if (
            attempt is None
            or questionnaire is None
            or questionnaire.kind != kind.value
            or questionnaire.code != code
        ):
            raise AttemptNotFound()
        total = len(attempt.questions)
        if 1 <= question_no <= attempt.answered:
            return _replay(session, attempt, questionnaire, question_no, now)
        waiting = attempt.answered + 1 if attempt.status == AttemptStatus.IN_PROGRESS else None
        if question_no != waiting:
            raise OutOfOrder(waiting)
        question = attempt.questions[question_no - 1]
        parsed = parse_answer(question, raw_answer)
        elapsed = max(timedelta(0), now - attempt.question_shown_at)
        minimum = min_reading_seconds(question, member.language)
        too_fast = elapsed.total_seconds() < minimum
        row = QuestionnaireAnswer(
            attempt_id=attempt.id,
            question_no=question_no,
            question_key=question["key"],
            answered_at=now,
            elapsed_ms=int(elapsed.total_seconds() * 1000),
            too_fast=too_fast,
            scale_value=parsed.scale_value,
            text_value=parsed.text_value,
        )
        if parsed.choice_position is not None:
            choice = question["choices"][parsed.choice_position]
            row.choice_label = LABELS[parsed.choice_position]
            row.choice_index = choice["index"]
            if kind is QuestionnaireKind.QUIZ:
                row.is_correct = bool(choice.get("correct"))
        session.add(row)
        session.flush()  # one answer per question: a racing duplicate fails here
        attempt.answered += 1
        attempt.correct += 1 if row.is_correct else 0
        attempt.question_shown_at = now
        if too_fast:
            attempt.too_fast_answers += 1
            attempt.flags = [
                *attempt.flags,
                {
                    "code": "too_fast",
                    "question_no": question_no,
                    "seconds": round(elapsed.total_seconds(), 1),
                    "min_seconds": minimum,
                },
            ]
        result = None
        if attempt.answered == total:
            _finish(session, attempt, questionnaire, now, actor)
            result = _result(session, attempt, questionnaire, now)
        session.flush()
        return Answered(attempt, questionnaire, row, question, replayed=False, result=result)

    return _retrying(session, work)


def _replay(
    session: Session,
    attempt: Attempt,
    questionnaire: Questionnaire,
    question_no: int,
    now: datetime,
) -> Answered:
    row = session.scalars(
        select(QuestionnaireAnswer).where(
            QuestionnaireAnswer.attempt_id == attempt.id,
            QuestionnaireAnswer.question_no == question_no,
        )
    ).one()
    finished = attempt.status == AttemptStatus.COMPLETED and question_no == len(attempt.questions)
    return Answered(
        attempt,
        questionnaire,
        row,
        attempt.questions[question_no - 1],
        replayed=True,
        result=_result(session, attempt, questionnaire, now) if finished else None,
    )


# --- what a partner has done --------------------------------------------------------------


@dataclass(frozen=True)
class CompletedModule:
    questionnaire: Questionnaire
    passed_at: datetime  # the first pass
    score_percent: int  # of the first pass
    points_awarded: int
    attempts: int  # attempts started, all days


def training_record(session: Session, partner: Partner) -> list[CompletedModule]:
    """The quiz modules the partner has passed, most recent first pass first."""
    passed = session.scalars(
        select(Attempt)
        .join(Questionnaire, Questionnaire.id == Attempt.questionnaire_id)
        .where(
            Attempt.partner_id == partner.id,
            Attempt.passed.is_(True),
            Questionnaire.kind == QuestionnaireKind.QUIZ.value,
        )
        .order_by(Attempt.completed_at, Attempt.id)
    )
    first_by_module: dict[int, Attempt] = {}
    for attempt in passed:
        first_by_module.setdefault(attempt.questionnaire_id, attempt)
    counts = dict(
        session.execute(
            select(Attempt.questionnaire_id, func.count())
            .where(Attempt.partner_id == partner.id)
            .group_by(Attempt.questionnaire_id)
        ).all()
    )
    points = dict(
        session.execute(
            select(Attempt.questionnaire_id, func.sum(Attempt.points_awarded))
            .where(Attempt.partner_id == partner.id)
            .group_by(Attempt.questionnaire_id)
        ).all()
    )
    found = []
    for questionnaire_id, attempt in first_by_module.items():
        questionnaire = session.get(Questionnaire, questionnaire_id)
        assert questionnaire is not None and attempt.completed_at is not None
        found.append(
            CompletedModule(
                questionnaire=questionnaire,
                passed_at=attempt.completed_at,
                score_percent=attempt.score_percent or 0,
                points_awarded=int(points.get(questionnaire_id) or 0),
                attempts=int(counts.get(questionnaire_id) or 0),
            )
        )
    return sorted(found, key=lambda m: m.passed_at, reverse=True)


def shown_choices(question: dict[str, Any]) -> Sequence[tuple[str, dict[str, str]]]:
    """(label, text) of each choice, in the order shown."""
    return [(LABELS[n], choice["text"]) for n, choice in enumerate(question.get("choices") or [])]


def correct_choice(question: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """The label and text of a quiz question's right choice, as shown in this attempt."""
    for n, choice in enumerate(question.get("choices") or []):
        if choice.get("correct"):
            return LABELS[n], choice["text"]
    return None
