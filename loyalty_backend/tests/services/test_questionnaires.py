"""The quiz and survey engine on SQLite and PostgreSQL: who is offered what, start and
resume, shuffling, scoring, points on the first pass only, attempt limits per WIB day,
too-fast answers, surveys and their thank-you."""

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.clock import WIB
from app.core.db import write_transaction
from app.models import LedgerEntry, Partner, QuestionnaireAnswer, QuestionnaireAttempt
from app.models.enums import PartnerStatus
from app.models.questionnaire import QuestionnaireKind
from app.services import ledger
from app.services import questionnaires as engine
from app.services.errors import PartnerSuspended
from app.services.questionnaire_errors import (
    AlreadyCompleted,
    AttemptLimitReached,
    AttemptNotFound,
    InvalidAnswer,
    NotOffered,
    OutOfOrder,
    QuestionnaireNotFound,
)
from tests.questionnaire_utils import (
    NOON,
    THINK,
    load,
    quiz_yaml,
    right_label,
    survey_yaml,
    write_content,
    wrong_label,
)
from tests.utils import assert_ledger_consistent, new_partner

QUIZ = QuestionnaireKind.QUIZ
SURVEY = QuestionnaireKind.SURVEY


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return write_content(
        tmp_path / "content",
        quizzes={"test-quiz.yml": quiz_yaml()},
        surveys={"test-survey.yml": survey_yaml()},
    )


@pytest.fixture
def loaded(session: Session, content: Path) -> Path:
    load(session, content)
    return content


@pytest.fixture
def partner(session: Session, loaded: Path) -> Partner:
    return new_partner(session)


class Taker:
    """One partner taking a questionnaire, answering at a chosen moment."""

    def __init__(self, session: Session, partner: Partner, kind: QuestionnaireKind = QUIZ):
        self.session, self.partner, self.kind = session, partner, kind
        self.code = "test-quiz" if kind is QUIZ else "test-survey"
        self.clock = NOON

    def start(self, **kwargs: Any) -> engine.Started:
        started = engine.start(
            self.session, self.partner, self.kind, self.code, now=self.clock, **kwargs
        )
        self.attempt = started.attempt
        return started

    def answer(self, raw: str, question_no: int | None = None, wait: timedelta = THINK):
        self.clock += wait
        return engine.answer(
            self.session,
            self.partner,
            self.kind,
            self.code,
            attempt_id=self.attempt.id,
            question_no=question_no or self.attempt.answered + 1,
            raw_answer=raw,
            now=self.clock,
        )

    def right(self) -> engine.Answered:
        return self.answer(right_label(self.attempt, self.attempt.answered + 1))

    def wrong(self) -> engine.Answered:
        return self.answer(wrong_label(self.attempt, self.attempt.answered + 1))

    def run(self, *moves: Callable[["Taker"], engine.Answered]) -> engine.Answered:
        last = None
        for move in moves:
            last = move(self)
        assert last is not None
        return last


def quiz_credits(session: Session, partner: Partner) -> list[LedgerEntry]:
    session.commit()
    return list(
        session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.partner_id == partner.id, LedgerEntry.reason == "quiz"
            )
        )
    )


# --- who is offered what -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audience", "window", "offered"),
    [
        ("{roles: []}", "", True),
        ("{roles: [retailer]}", "", True),
        ("{roles: [wholesaler, distributor]}", "", False),
        ("{regions: [Bali]}", "", True),
        ("{regions: [DKI Jakarta]}", "", False),
        ("{tiers: [silver]}", "", True),
        ("{tiers: [gold, platinum]}", "", False),
        ("{languages: [id]}", "", True),
        ("{languages: [en]}", "", False),
        ("{roles: []}", "{from: 2026-11-20, to: 2026-11-20}", True),
        ("{roles: []}", "{from: 2026-11-21}", False),
        ("{roles: []}", "{to: 2026-11-19}", False),
    ],
)
def test_a_module_is_offered_by_role_region_tier_language_and_dates(
    session: Session, tmp_path: Path, audience: str, window: str, offered: bool
) -> None:
    text = quiz_yaml(audience=audience, window=window)
    if "languages: [en]" in audience:  # texts are only needed in the languages offered
        text = text.replace('id: "Kuis uji", ', "")
    load(session, write_content(tmp_path / "c", quizzes={"q.yml": text}))
    # A new retailer in Bali who speaks Indonesian is Silver with no points.
    partner = new_partner(session)  # a retailer in Bali (tests/utils.py)
    codes = [o.questionnaire.code for o in engine.offers(session, partner, QUIZ, now=NOON)]
    assert codes == (["test-quiz"] if offered else [])
    if not offered:
        with pytest.raises(NotOffered):
            engine.start(session, partner, QUIZ, "test-quiz", now=NOON)


def test_a_retired_module_is_not_offered_and_an_unknown_one_not_found(
    session: Session, tmp_path: Path, partner: Partner
) -> None:
    load(session, write_content(tmp_path / "other"))  # the folders no longer have it
    assert engine.offers(session, partner, QUIZ, now=NOON) == []
    with pytest.raises(NotOffered):
        engine.start(session, partner, QUIZ, "test-quiz", now=NOON)
    with pytest.raises(QuestionnaireNotFound):
        engine.start(session, partner, QUIZ, "no-such-module", now=NOON)


# --- start, resume, shuffle ---------------------------------------------------------------


def test_each_attempt_shuffles_questions_and_choices(session: Session, partner: Partner) -> None:
    orders = set()
    for seed in range(6):
        other = new_partner(session)
        attempt = engine.start(
            session, other, QUIZ, "test-quiz", now=NOON, rng=random.Random(seed)
        ).attempt
        # Every question and choice is there, each choice keeping its place in the file.
        assert sorted(q["text"]["en"] for q in attempt.questions) == [
            "Points per carton of KHT-24?",
            "What is in a KSGA-24 carton?",
            "Which stock is sold first?",
        ]
        for question in attempt.questions:
            assert sorted(c["index"] for c in question["choices"]) == list(
                range(len(question["choices"]))
            )
            assert sum(c["correct"] for c in question["choices"]) == 1
        orders.add(
            tuple((q["key"], tuple(c["index"] for c in q["choices"])) for q in attempt.questions)
        )
    assert len(orders) > 1  # not the file's order every time


def test_leaving_and_coming_back_resumes_at_the_same_question(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    first = taker.start()
    assert not first.resumed and first.attempts_left_today == 1
    taker.right()
    taker.clock += timedelta(hours=3)  # the partner left ("nanti aja") and came back
    again = taker.start()
    assert again.resumed and again.attempt.id == first.attempt.id
    assert again.attempt.answered == 1  # question 2 is waiting
    assert again.attempt.questions == first.attempt.questions  # same order as before
    assert again.attempt.question_shown_at == taker.clock  # reading time starts again
    assert again.attempts_left_today == 1  # resuming is not a new attempt


# --- answering and scoring -----------------------------------------------------------------


def test_a_full_pass_credits_the_points_once_through_the_ledger(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    first = taker.right()
    assert first.answer.is_correct and first.result is None
    taker.wrong()
    done = taker.right()
    assert done.result == engine.Result(
        correct=2,
        questions=3,
        score_percent=66,
        pass_mark_percent=66,
        passed=True,
        points_awarded=100,
        first_pass=True,
        already_rewarded=False,
        attempts_left_today=1,
    )
    [credit] = quiz_credits(session, partner)
    assert (credit.delta, credit.reason, credit.reference_type, credit.reference_id) == (
        100,
        "quiz",
        "quiz",
        "test-quiz",
    )
    assert credit.idempotency_key == f"quiz:test-quiz:{partner.id}"
    assert credit.description == "Quiz: Test quiz"
    assert assert_ledger_consistent(session, partner.id) == 100


def test_a_fail_then_a_retry_that_passes(session: Session, partner: Partner) -> None:
    taker = Taker(session, partner)
    first_attempt = taker.start().attempt.id
    failed = taker.run(Taker.wrong, Taker.wrong, Taker.right).result
    assert failed is not None
    assert (failed.passed, failed.score_percent, failed.points_awarded) == (False, 33, 0)
    assert failed.attempts_left_today == 1
    assert quiz_credits(session, partner) == []

    retry = taker.start()
    assert not retry.resumed and retry.attempt.id != first_attempt
    assert retry.attempts_left_today == 0
    passed = taker.run(Taker.right, Taker.right, Taker.right).result
    assert passed is not None and passed.passed and passed.first_pass
    assert passed.points_awarded == 100 and passed.score_percent == 100
    assert [c.delta for c in quiz_credits(session, partner)] == [100]


def test_passing_again_gives_no_more_points(session: Session, partner: Partner) -> None:
    taker = Taker(session, partner)
    taker.start()
    taker.run(Taker.right, Taker.right, Taker.right)
    taker.clock += timedelta(days=1)
    taker.start()
    again = taker.run(Taker.right, Taker.right, Taker.right).result
    assert again is not None and again.passed
    assert (again.points_awarded, again.first_pass, again.already_rewarded) == (0, False, True)
    assert [c.delta for c in quiz_credits(session, partner)] == [100]


def test_a_module_with_no_points_credits_nothing(session: Session, tmp_path: Path) -> None:
    load(session, write_content(tmp_path / "c", quizzes={"q.yml": quiz_yaml(points=0)}))
    partner = new_partner(session)
    taker = Taker(session, partner)
    taker.start()
    result = taker.run(Taker.right, Taker.right, Taker.right).result
    assert result is not None and result.passed and result.points_awarded == 0
    assert quiz_credits(session, partner) == []


def test_answering_an_answered_question_again_replays_it(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    right = right_label(taker.attempt, 1)
    first = taker.answer(right)
    # A double tap, or the same request retried: even with another label, nothing changes.
    again = taker.answer(wrong_label(taker.attempt, 1), question_no=1)
    assert again.replayed and again.answer.id == first.answer.id
    assert again.answer.choice_label == right and again.answer.is_correct
    session.commit()
    assert session.scalar(select(func.count()).select_from(QuestionnaireAnswer)) == 1
    assert session.get(QuestionnaireAttempt, taker.attempt.id).answered == 1


def test_the_last_answer_replayed_returns_the_result_without_crediting_again(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    done = taker.run(Taker.right, Taker.right, Taker.right)
    replay = taker.answer(done.answer.choice_label or "", question_no=3)
    assert replay.replayed and replay.result is not None
    assert replay.result.points_awarded == 100 and replay.result.first_pass
    assert len(quiz_credits(session, partner)) == 1


def test_answers_out_of_order_or_not_fitting_are_refused(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    with pytest.raises(OutOfOrder) as skipped:
        taker.answer("A", question_no=2)
    assert skipped.value.waiting_question_no == 1
    labels = "".join(label for label, _ in engine.shown_choices(taker.attempt.questions[0]))
    for bad in ("", "Z", "AB", "yang kedua", "1"):
        with pytest.raises(InvalidAnswer):
            taker.answer(bad, question_no=1)
    assert taker.answer(labels[-1].lower(), question_no=1).answer.choice_label == labels[-1]
    stranger = new_partner(session)
    with pytest.raises(AttemptNotFound):  # someone else's attempt
        engine.answer(
            session, stranger, QUIZ, "test-quiz", attempt_id=taker.attempt.id,
            question_no=2, raw_answer="A", now=NOON,
        )  # fmt: skip


def test_answers_faster_than_reading_are_flagged_not_refused(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    question = taker.attempt.questions[0]
    minimum = engine.min_reading_seconds(question, "id")
    assert 1.0 < minimum < 5.0
    quick = taker.answer(right_label(taker.attempt, 1), wait=timedelta(seconds=minimum - 0.2))
    slow = taker.answer(
        right_label(taker.attempt, 2), wait=timedelta(seconds=minimum + 5)
    )  # fmt: skip
    assert quick.answer.too_fast and not slow.answer.too_fast
    assert quick.answer.elapsed_ms == int((minimum - 0.2) * 1000)
    attempt = session.get(QuestionnaireAttempt, taker.attempt.id)
    assert attempt.too_fast_answers == 1
    assert attempt.flags == [
        {
            "code": "too_fast",
            "question_no": 1,
            "seconds": round(minimum - 0.2, 1),
            "min_seconds": minimum,
        }
    ]
    assert quick.answer.is_correct  # scored all the same


def test_a_resumed_question_is_timed_from_when_it_was_shown_again(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    taker.clock += timedelta(hours=5)
    taker.start()  # resumed
    answered = taker.answer(right_label(taker.attempt, 1), wait=timedelta(seconds=20))
    assert answered.answer.elapsed_ms == 20_000


def test_an_attempt_keeps_its_questions_when_the_file_changes(
    session: Session, partner: Partner, loaded: Path
) -> None:
    taker = Taker(session, partner)
    taker.start()
    before = list(taker.attempt.questions)
    (loaded / "quizzes" / "test-quiz.yml").write_text(
        quiz_yaml().replace("24 bottles", "twenty-four bottles")
    )
    load(session, loaded)
    resumed = taker.start()
    assert resumed.attempt.questions == before


# --- attempts per WIB day -------------------------------------------------------------------


def test_attempts_are_limited_per_wib_day(session: Session, partner: Partner) -> None:
    taker = Taker(session, partner)
    late = datetime(2026, 11, 20, 23, 0, tzinfo=WIB)  # 16:00 UTC
    for _ in range(2):
        taker.clock = late
        taker.start()
        taker.run(Taker.wrong, Taker.wrong, Taker.wrong)
    taker.clock = datetime(2026, 11, 20, 23, 59, tzinfo=WIB)
    with pytest.raises(AttemptLimitReached) as refused:
        taker.start()
    assert refused.value.retry_on.isoformat() == "2026-11-21"
    assert refused.value.attempts_per_day == 2
    # 00:00 WIB is still 17:00 UTC of the 20th: the WIB day decides, so a new attempt.
    taker.clock = datetime(2026, 11, 21, 0, 0, tzinfo=WIB)
    assert not taker.start().resumed
    [offer] = engine.offers(session, partner, QUIZ, now=taker.clock)
    assert (offer.attempts_today, offer.attempts_left_today) == (1, 1)


def test_an_attempt_in_progress_resumes_even_when_no_new_one_is_allowed(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    taker.run(Taker.wrong, Taker.wrong, Taker.wrong)
    taker.start()  # the second and last of the day
    taker.right()
    resumed = taker.start()
    assert resumed.resumed and resumed.attempts_left_today == 0


# --- the partner's record, and who may take part -----------------------------------------


def test_the_training_record_lists_passed_modules_with_the_first_pass(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    taker.run(Taker.wrong, Taker.wrong, Taker.wrong)
    assert engine.training_record(session, partner) == []
    taker.start()
    taker.run(Taker.right, Taker.right, Taker.wrong)
    passed_at = taker.clock
    taker.clock += timedelta(days=2)
    taker.start()
    taker.run(Taker.right, Taker.right, Taker.right)
    [done] = engine.training_record(session, partner)
    assert done.questionnaire.code == "test-quiz"
    assert (done.passed_at, done.score_percent) == (passed_at, 66)
    assert (done.points_awarded, done.attempts) == (100, 3)


def test_a_suspended_partner_may_not_start_or_answer(session: Session, partner: Partner) -> None:
    taker = Taker(session, partner)
    taker.start()
    with write_transaction(session):
        session.get(Partner, partner.id).status = PartnerStatus.SUSPENDED.value
    with pytest.raises(PartnerSuspended):
        taker.start()
    with pytest.raises(PartnerSuspended):
        taker.right()


# --- surveys ---------------------------------------------------------------------------------


def test_a_survey_stores_each_kind_of_answer_and_thanks_once(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner, SURVEY)
    started = taker.start()
    # A survey keeps the designer's order.
    assert [q["kind"] for q in started.attempt.questions] == ["scale", "choice", "text"]
    assert [c["index"] for c in started.attempt.questions[1]["choices"]] == [0, 1, 2]
    for bad in ("0", "6", "lima", ""):
        with pytest.raises(InvalidAnswer):
            taker.answer(bad, question_no=1)
    assert taker.answer("4").answer.scale_value == 4
    with pytest.raises(InvalidAnswer):
        taker.answer("D", question_no=2)  # three choices: A-C
    picked = taker.answer("b").answer
    assert (picked.choice_label, picked.choice_index, picked.is_correct) == ("B", 1, None)
    with pytest.raises(InvalidAnswer):
        taker.answer("x" * 51, question_no=3)  # max_length: 50
    done = taker.answer("  Poin lebih cepat masuk  ")
    assert done.answer.text_value == "Poin lebih cepat masuk"
    assert done.result is not None
    assert (done.result.passed, done.result.correct, done.result.points_awarded) == (None, None, 50)
    [credit] = quiz_credits(session, partner)
    assert (credit.delta, credit.reference_type, credit.reference_id) == (
        50,
        "survey",
        "test-survey",
    )
    assert credit.idempotency_key == f"quiz:survey:test-survey:{partner.id}"
    with pytest.raises(AlreadyCompleted):
        taker.start()
    [offer] = engine.offers(session, partner, SURVEY, now=taker.clock)
    assert offer.completed is not None and offer.in_progress is None


def test_a_survey_without_points_thanks_without_crediting(session: Session, tmp_path: Path) -> None:
    load(session, write_content(tmp_path / "c", surveys={"s.yml": survey_yaml(points=0)}))
    partner = new_partner(session)
    taker = Taker(session, partner, SURVEY)
    taker.start()
    done = taker.run(lambda t: t.answer("5"), lambda t: t.answer("A"), lambda t: t.answer("ok"))
    assert done.result is not None and done.result.points_awarded == 0
    assert quiz_credits(session, partner) == []


def test_quiz_points_count_for_the_tier_and_keep_the_ledger_consistent(
    session: Session, partner: Partner
) -> None:
    taker = Taker(session, partner)
    taker.start()
    taker.run(Taker.right, Taker.right, Taker.right)
    view = ledger.balance(session, partner.id, taker.clock)
    assert (view.available_points, view.lifetime_earned) == (100, 100)


def test_a_lesson_picture_or_document_comes_with_the_start(
    session: Session, tmp_path: Path
) -> None:
    from app.schemas.questionnaire import AttemptOut

    media = '{type: document, url: "https://cdn.example.com/ksga.pdf", filename: ksga.pdf}'
    text = quiz_yaml().replace("points: 100", f"lesson_media: {media}\npoints: 100")
    load(session, write_content(tmp_path / "c", quizzes={"q.yml": text}))
    started = engine.start(session, new_partner(session), QUIZ, "test-quiz", now=NOON)
    body = AttemptOut.build(started).model_dump()
    assert body["media"] == {
        "type": "document",
        "url": "https://cdn.example.com/ksga.pdf",
        "filename": "ksga.pdf",
    }
    assert body["intro"] == {"id": "Pelajaran singkat.", "en": "A short lesson."}
    assert "correct" not in str(body["question"])
