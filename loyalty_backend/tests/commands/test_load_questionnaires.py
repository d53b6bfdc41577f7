"""The quiz and survey files: the repository's are valid, problems are reported by file
and line, loading upserts by code and retires what is gone."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands import load_content, load_questionnaires
from app.models import Questionnaire
from tests.questionnaire_utils import load, quiz_yaml, survey_yaml, write_content


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(load_content.CONTENT_DIR, folder)
    return folder


def test_the_repository_modules_and_survey_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_questionnaires.main(["--check"]) == 0
    assert "questionnaires ok: 3 quiz modules, 1 survey" in capsys.readouterr().out
    found, problems = load_questionnaires.read_questionnaires()
    assert problems == []
    by_code = {item.content.code: item.content for item in found.items}
    assert set(by_code) == {
        "kopi-susu-101",
        "kopi-susu-less-sugar",
        "display-toko-retail",
        "kepuasan-mitra-2026",
    }
    # One module is for retailers only; the others are for everyone.
    assert by_code["display-toko-retail"].audience.roles == ["retailer"]
    assert by_code["kopi-susu-101"].audience.roles == []


def test_load_upserts_by_code_and_retires_what_is_gone(session: Session, content: Path) -> None:
    first = load(session, content)
    assert (first.quizzes, first.surveys, first.deactivated) == (3, 1, 0)
    assert load(session, content).deactivated == 0  # idempotent

    quiz = content / "quizzes" / "kopi-susu-101.yml"
    quiz.write_text(quiz.read_text().replace("points: 200", "points: 250"))
    (content / "quizzes" / "display-toko-retail.yml").unlink()
    summary = load(session, content)
    assert (summary.quizzes, summary.deactivated) == (2, 1)
    session.expire_all()
    rows = {q.code: q for q in session.scalars(select(Questionnaire))}
    assert rows["kopi-susu-101"].points == 250
    assert rows["kopi-susu-101"].pass_mark_percent == 80
    assert rows["kopi-susu-101"].source == "content/quizzes/kopi-susu-101.yml"
    assert rows["display-toko-retail"].active is False  # kept: attempts refer to it
    survey = rows["kepuasan-mitra-2026"]
    assert (survey.kind, survey.pass_mark_percent, survey.attempts_per_day) == (
        "survey",
        None,
        None,
    )
    assert [q["kind"] for q in survey.questions] == ["scale", "choice", "choice", "text"]


def _problems(tmp_path: Path, quiz: str | None = None, survey: str | None = None) -> list[str]:
    folder = write_content(
        tmp_path / "c",
        quizzes={"bad.yml": quiz} if quiz is not None else {},
        surveys={"bad.yml": survey} if survey is not None else {},
    )
    return load_questionnaires.read_questionnaires(folder)[1]


BAD_QUIZ = """code: Kopi Susu!
title: {id: "Judul"}
lesson: {id: "Pelajaran", en: "Lesson"}
points: -5
pass_mark: 0.805
attempts_per_day: 3
audience: {roles: [king], tiers: [diamond], languages: [fr]}
window: {from: 2026-12-31, to: 2026-10-01}
colour: blue
questions:
  - text: {id: "Soal satu?", en: "Question one?"}
    choices:
      - text: {id: "A", en: "A"}
      - text: {id: "B", en: "B"}
    explanation: {id: "X", en: "X"}
  - text: {id: "Soal dua?", en: "Question two?"}
    choices:
      - text: {id: "A", en: "A"}
        correct: true
      - text: {id: "B", en: "B"}
        correct: true
      - text: {id: "C", en: "C"}
      - text: {id: "D", en: "D"}
      - text: {id: "E", en: "E"}
    explanation: {id: "X", en: "X"}
  - text: {id: "Soal tiga?", en: "Question three?"}
    choices:
      - text: {id: "A", en: "A"}
        correct: true
      - text: {id: "B"}
"""


def test_problems_are_reported_by_file_and_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, quiz=BAD_QUIZ)
    bad = tmp_path / "c" / "quizzes" / "bad.yml"
    expected = [
        f"{bad}:1: code: String should match pattern '^[a-z0-9](?:[a-z0-9-]{{0,62}}[a-z0-9])?$'",
        f"{bad}:2: title: needs a text in en",
        f"{bad}:4: points: Input should be greater than or equal to 0",
        f"{bad}:5: pass_mark: must be a whole percent, like 0.8 or 0.75",
        f"{bad}:7: audience.roles: unknown role 'king' "
        "(one of distributor, field_seller, retailer, wholesaler)",
        f"{bad}:7: audience.tiers: unknown tier 'diamond' (one of gold, platinum, silver)",
        f"{bad}:7: audience.languages: unknown language 'fr' (one of id, en)",
        f"{bad}:8: window: from is after to",
        f"{bad}:9: colour: Extra inputs are not permitted",
        f"{bad}:12: questions[0].choices: exactly one choice must have correct: true (found 0)",
        f"{bad}:17: questions[1].choices: List should have at most 4 items after validation, not 5",
        f"{bad}:30: questions[2].choices[1].text: needs a text in en",
        f"{bad}:26: questions[2].explanation: Field required",
    ]
    for line in expected:
        assert line in problems, (line, problems)
    assert len(problems) == len(expected), problems


def test_a_problem_stops_the_whole_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_content(
        tmp_path / "c",
        quizzes={"good.yml": quiz_yaml(), "again.yml": quiz_yaml(), "broken.yml": "code: [x\n"},
    )
    assert load_questionnaires.main(["--check", "--content-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'quizzes' / 'good.yml'}:1: code: test-quiz already used by " in err
    assert f"{folder / 'quizzes' / 'broken.yml'}:2: yaml:" in err
    assert "2 problem(s): nothing loaded" in err


def test_texts_are_needed_only_in_the_languages_offered(tmp_path: Path) -> None:
    english_only = quiz_yaml(audience="{languages: [en]}").replace('id: "Kuis uji", ', "")
    assert _problems(tmp_path, quiz=english_only) == []
    assert _problems(tmp_path, quiz=english_only.replace("languages: [en]", "roles: []")) == [
        f"{tmp_path / 'c' / 'quizzes' / 'bad.yml'}:2: title: needs a text in id"
    ]


def test_survey_questions_must_fit_their_kind(tmp_path: Path) -> None:
    text = survey_yaml().replace(
        "  - kind: text\n", "  - kind: text\n    choices:\n      - text: {id: A, en: A}\n"
    )
    text += "  - kind: poll\n    text: {id: X, en: X}\n"
    problems = _problems(tmp_path, survey=text)
    bad = tmp_path / "c" / "surveys" / "bad.yml"
    assert f"{bad}:18: questions[2]: a text question has no choices" in problems, problems
    assert any(p.startswith(f"{bad}:23: questions[3].kind: Input should be") for p in problems)


def test_long_texts_are_refused_before_whatsapp_would(tmp_path: Path) -> None:
    long_question = quiz_yaml().replace("Isi karton KSGA-24?", "x" * 401)
    [problem] = _problems(tmp_path, quiz=long_question)
    assert problem.endswith("questions[0].text: id has 401 characters, at most 400")
