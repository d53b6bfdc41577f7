"""Helpers for quiz and survey tests: content written to a temporary folder, and the
labels a partner would pick (the tests read the attempt's shuffled questions)."""

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from app.commands import load_questionnaires
from app.core.clock import WIB
from app.core.db import write_transaction
from app.models import QuestionnaireAttempt
from app.services import questionnaires as engine
from app.services import tiers

# 12:00 WIB on an ordinary day inside every test window.
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=WIB)
# Long enough after a question was shown that no answer counts as too fast.
THINK = timedelta(seconds=30)

QUIZ = """code: {code}
title: {{id: "Kuis uji", en: "Test quiz"}}
lesson: {{id: "Pelajaran singkat.", en: "A short lesson."}}
points: {points}
pass_mark: {pass_mark}
attempts_per_day: {attempts_per_day}
audience: {audience}
{window}questions:
  - text: {{id: "Isi karton KSGA-24?", en: "What is in a KSGA-24 carton?"}}
    choices:
      - text: {{id: "24 botol", en: "24 bottles"}}
        correct: true
      - text: {{id: "12 botol", en: "12 bottles"}}
      - text: {{id: "48 botol", en: "48 bottles"}}
    explanation: {{id: "24 x 200 ml.", en: "24 x 200 ml."}}
  - text: {{id: "Poin Kopi Hitam Tubruk per karton?", en: "Points per carton of KHT-24?"}}
    choices:
      - text: {{id: "40", en: "40"}}
        correct: true
      - text: {{id: "50", en: "50"}}
    explanation: {{id: "40 poin.", en: "40 points."}}
  - text: {{id: "Stok mana dijual dulu?", en: "Which stock is sold first?"}}
    choices:
      - text: {{id: "Stok lama", en: "The oldest"}}
        correct: true
      - text: {{id: "Stok baru", en: "The newest"}}
      - text: {{id: "Acak", en: "Any"}}
      - text: {{id: "Yang paling mahal", en: "The dearest"}}
    explanation: {{id: "FIFO.", en: "FIFO."}}
"""

SURVEY = """code: {code}
title: {{id: "Survei uji", en: "Test survey"}}
intro: {{id: "Tiga pertanyaan.", en: "Three questions."}}
points: {points}
audience: {audience}
questions:
  - kind: scale
    text: {{id: "Seberapa puas?", en: "How happy?"}}
    labels:
      low: {{id: "Tidak puas", en: "Unhappy"}}
      high: {{id: "Puas", en: "Happy"}}
  - kind: choice
    text: {{id: "Hadiah favorit?", en: "Favourite reward?"}}
    choices:
      - text: {{id: "Pulsa", en: "Phone credit"}}
      - text: {{id: "Voucher", en: "Voucher"}}
      - text: {{id: "Kaos", en: "Shirt"}}
  - kind: text
    text: {{id: "Saran Anda?", en: "Your suggestion?"}}
    max_length: 50
"""


def quiz_yaml(
    code: str = "test-quiz",
    *,
    points: int = 100,
    required_share: str = "0.66",
    attempts_per_day: int = 2,
    audience: str = "{roles: [], regions: [], tiers: []}",
    window: str = "",
) -> str:
    return QUIZ.format(
        code=code,
        points=points,
        pass_mark=required_share,
        attempts_per_day=attempts_per_day,
        audience=audience,
        window=f"window: {window}\n" if window else "",
    )


def survey_yaml(
    code: str = "test-survey", *, points: int = 50, audience: str = "{roles: []}"
) -> str:
    return SURVEY.format(code=code, points=points, audience=audience)


def write_content(
    folder: Path, quizzes: dict[str, str] | None = None, surveys: dict[str, str] | None = None
) -> Path:
    """A content folder holding these files (``{"name.yml": text}``) and nothing else."""
    for sub, files in (("quizzes", quizzes or {}), ("surveys", surveys or {})):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / sub / name).write_text(text, encoding="utf-8")
    return folder


def load(session: Session, folder: Path) -> load_questionnaires.LoadSummary:
    with write_transaction(session):
        tiers.ensure_default_tiers(session)
        return load_questionnaires.load_questionnaires(session, folder)


def right_label(attempt: QuestionnaireAttempt, question_no: int) -> str:
    found = engine.correct_choice(attempt.questions[question_no - 1])
    assert found is not None
    return found[0]


def wrong_label(attempt: QuestionnaireAttempt, question_no: int) -> str:
    right = right_label(attempt, question_no)
    labels = [label for label, _ in engine.shown_choices(attempt.questions[question_no - 1])]
    return next(label for label in labels if label != right)
