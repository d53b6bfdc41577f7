"""Racing quiz requests on real connections (PostgreSQL and SQLite): the last answer sent
twenty times at once completes the attempt once and credits the points once; twenty
starts at once open one attempt."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import LedgerEntry, Partner, QuestionnaireAnswer, QuestionnaireAttempt
from app.models.questionnaire import QuestionnaireKind
from app.services import questionnaires as engine
from tests.conftest import TestDB
from tests.questionnaire_utils import NOON, THINK, load, quiz_yaml, right_label, write_content
from tests.utils import assert_ledger_consistent, new_partner, race

WORKERS = 20
QUIZ = QuestionnaireKind.QUIZ


@pytest.fixture
def partner(session: Session, tmp_path: Path) -> Partner:
    load(session, write_content(tmp_path / "content", quizzes={"q.yml": quiz_yaml()}))
    return new_partner(session)


def test_twenty_racing_last_answers_complete_once_and_credit_once(
    db: TestDB, session: Session, partner: Partner
) -> None:
    attempt = engine.start(session, partner, QUIZ, "test-quiz", now=NOON).attempt
    for question_no in (1, 2):
        engine.answer(
            session, partner, QUIZ, "test-quiz", attempt_id=attempt.id,
            question_no=question_no, raw_answer=right_label(attempt, question_no),
            now=NOON + THINK * question_no,
        )  # fmt: skip
    last = right_label(attempt, 3)

    def task(s: Session, _index: int) -> Any:
        me = s.get(Partner, partner.id)
        return engine.answer(
            s, me, QUIZ, "test-quiz", attempt_id=attempt.id, question_no=3,
            raw_answer=last, now=NOON + THINK * 3,
        )  # fmt: skip

    results = race(db, WORKERS, task)
    assert all(isinstance(r, engine.Answered) for r in results), results
    assert sum(not r.replayed for r in results) == 1
    # Every racer reads the same outcome: passed, 100 points, credited by this attempt.
    assert {(r.result.passed, r.result.points_awarded, r.result.first_pass) for r in results} == {
        (True, 100, True)
    }
    session.commit()
    session.expire_all()  # read what the racers committed
    assert (
        session.scalar(
            select(func.count())
            .select_from(QuestionnaireAnswer)
            .where(QuestionnaireAnswer.attempt_id == attempt.id)
        )
        == 3
    )
    stored = session.get(QuestionnaireAttempt, attempt.id)
    assert (stored.status, stored.answered, stored.correct) == ("completed", 3, 3)
    credits = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.partner_id == partner.id, LedgerEntry.reason == "quiz"
        )
    ).all()
    assert [(c.delta, c.idempotency_key) for c in credits] == [
        (100, f"quiz:test-quiz:{partner.id}")
    ]
    assert stored.ledger_entry_id == credits[0].id
    assert assert_ledger_consistent(session, partner.id) == 100


def test_twenty_racing_starts_open_one_attempt(
    db: TestDB, session: Session, partner: Partner
) -> None:
    def task(s: Session, _index: int) -> Any:
        return engine.start(s, s.get(Partner, partner.id), QUIZ, "test-quiz", now=NOON)

    results = race(db, WORKERS, task)
    assert all(isinstance(r, engine.Started) for r in results), results
    assert sum(not r.resumed for r in results) == 1
    assert len({r.attempt.id for r in results}) == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(QuestionnaireAttempt)) == 1
