"""Load training quizzes and surveys from YAML: ``python -m app.commands.load_questionnaires``.

The sibling of ``app.commands.load_content`` (catalogue and earn rules), with the same
habits: reads ``content/quizzes/*.yml`` (one quiz module per file) and
``content/surveys/*.yml`` (one survey per file) under the repository's ``content/`` (or
``--content-dir``), checks every file, and upserts them by code. A module or survey whose
file is gone is deactivated, never deleted: attempts and answers refer to it.

``--check`` validates only (no database), for ``make validate``. Every problem is
reported as ``file:line: where: what``; the exit status is 2 when there is any, and then
nothing is written. The format is described for trainers in docs/quizzes.md.

A quiz module loaded for the first time queues ``quiz_new`` for every active partner
it is offered to (issue 21; key ``quiz_new:<code>:<partner id>``, so loading again never
repeats it), in the same transaction; ``--no-notify`` (and the seed) skip that.

What is stored (``questionnaire.questions``, copied into each attempt when it starts):
``{"key", "kind": "choice"|"scale"|"text", "text": {"id", "en"}, "choices": [{"text",
"correct"}], "explanation": {...} | None, "labels": {"low", "high"} | None,
"max_length": int | None}``. ``key`` is a short hash of the question's kind and texts:
reports group answers by it, so rewording a question starts a new line in the report.
"""

import argparse
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands.load_content import (
    CONTENT_DIR,
    EligibleIn,
    Marked,
    Problems,
    _MarkingLoader,
)
from app.core.clock import utcnow, wib_date
from app.core.db import write_transaction
from app.models import Partner, Questionnaire
from app.models.enums import Language, PartnerStatus
from app.models.questionnaire import QuestionKind, QuestionnaireKind
from app.schemas.common import DateWindow
from app.services import notifications, questionnaires

QUIZ_DIR = "quizzes"
SURVEY_DIR = "surveys"
LANGUAGES = tuple(language.value for language in Language)
CODE_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
QUIZ_CHOICES = (2, 4)  # A-D: reply buttons (up to 3) or a list (4)
SURVEY_CHOICES = (2, 10)  # a WhatsApp list has at most 10 rows
MAX_QUESTIONS = 20
SCALE = (1, 5)
TEXT_ANSWER_MAX = 1000


# --- the shapes -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LocalText(_Strict):
    """``{id: ..., en: ...}``: a text in every language the questionnaire is offered in."""

    MAX: ClassVar[int] = 400
    id: str | None = None
    en: str | None = None

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> Self:
        wanted = (info.context or {}).get("languages") or LANGUAGES
        missing = [language for language in wanted if not getattr(self, language)]
        if missing:
            raise ValueError(f"needs a text in {' and '.join(missing)}")
        for language in LANGUAGES:
            value = getattr(self, language)
            if value and len(value) > self.MAX:
                raise ValueError(f"{language} has {len(value)} characters, at most {self.MAX}")
        return self

    def as_dict(self) -> dict[str, str]:
        return {language: getattr(self, language) or "" for language in LANGUAGES}


class TitleText(LocalText):
    MAX = 80


class LessonText(LocalText):
    MAX = 3000  # a WhatsApp text is at most 4,096 characters


class QuestionText(LocalText):
    # The question and its labelled choices go in one interactive message body (<= 1,024).
    MAX = 400


class ChoiceText(LocalText):
    MAX = 100


class ExplanationText(LocalText):
    MAX = 600


class LabelText(LocalText):
    MAX = 40


class Media(_Strict):
    type: Literal["image", "document"]
    url: str = Field(pattern=r"^https://\S+$", max_length=500)
    filename: str | None = Field(default=None, max_length=100)


class Audience(EligibleIn):
    """Who is offered the questionnaire: the earn rules' roles, regions and tiers (the
    same checks), and languages."""

    languages: list[str] = Field(default_factory=list)

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        if any(not region.strip() for region in value):
            raise ValueError("a region cannot be empty")
        return [region.strip() for region in value]

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for language in value:
            if language not in LANGUAGES:
                raise ValueError(f"unknown language {language!r} (one of id, en)")
        return value


class QuizChoice(_Strict):
    text: ChoiceText
    correct: bool = False


class QuizQuestion(_Strict):
    text: QuestionText
    choices: list[QuizChoice] = Field(min_length=QUIZ_CHOICES[0], max_length=QUIZ_CHOICES[1])
    explanation: ExplanationText

    @field_validator("choices")
    @classmethod
    def _one_correct(cls, value: list[QuizChoice]) -> list[QuizChoice]:
        right = sum(choice.correct for choice in value)
        if right != 1:
            raise ValueError(f"exactly one choice must have correct: true (found {right})")
        return value


class SurveyChoice(_Strict):
    text: ChoiceText


class ScaleLabels(_Strict):
    low: LabelText  # what 1 means
    high: LabelText  # what 5 means


class SurveyQuestion(_Strict):
    kind: QuestionKind
    text: QuestionText
    choices: list[SurveyChoice] = Field(default_factory=list)
    labels: ScaleLabels | None = None
    max_length: int = Field(default=500, ge=10, le=TEXT_ANSWER_MAX, strict=True)

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        low, high = SURVEY_CHOICES
        if self.kind is QuestionKind.CHOICE and not low <= len(self.choices) <= high:
            raise ValueError(f"a choice question needs {low} to {high} choices")
        if self.kind is not QuestionKind.CHOICE and self.choices:
            raise ValueError(f"a {self.kind.value} question has no choices")
        if self.kind is not QuestionKind.SCALE and self.labels is not None:
            raise ValueError("only a scale question has labels")
        return self


class _Common(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    title: TitleText
    audience: Audience = Field(default_factory=Audience)
    window: DateWindow = Field(default_factory=DateWindow)
    active: bool = True


class QuizIn(_Common):
    lesson: LessonText
    lesson_media: Media | None = None
    points: int = Field(ge=0, le=100_000, strict=True)
    pass_mark: Decimal = Field(gt=0, le=1)
    attempts_per_day: int = Field(ge=1, le=20, strict=True)
    questions: list[QuizQuestion] = Field(min_length=1, max_length=MAX_QUESTIONS)

    @field_validator("pass_mark", mode="before")
    @classmethod
    def _share(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a share of questions, like 0.8")
        return Decimal(str(value))

    @field_validator("pass_mark")
    @classmethod
    def _whole_percent(cls, value: Decimal) -> Decimal:
        if (value * 100) % 1:
            raise ValueError("must be a whole percent, like 0.8 or 0.75")
        return value

    @property
    def pass_mark_percent(self) -> int:
        return int(self.pass_mark * 100)


class SurveyIn(_Common):
    intro: LessonText
    points: int = Field(default=0, ge=0, le=100_000, strict=True)
    questions: list[SurveyQuestion] = Field(min_length=1, max_length=MAX_QUESTIONS)


@dataclass
class QuestionnaireFile:
    path: Path
    kind: QuestionnaireKind
    content: QuizIn | SurveyIn


@dataclass
class Questionnaires:
    items: list[QuestionnaireFile] = field(default_factory=list)

    def count(self, kind: QuestionnaireKind) -> int:
        return sum(item.kind is kind for item in self.items)


# --- reading and checking -------------------------------------------------------------------


def _line_at(root: Marked, loc: Sequence[int | str]) -> int:
    """The line of the deepest part of ``loc`` (a pydantic error location) in the YAML."""
    node: Any = root
    line = root.line
    for part in loc:
        if isinstance(node, Marked) and part in node:
            line = node.key_lines.get(str(part), node.line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, Marked):
                line = node.line
        else:
            break
    return line


def _where(loc: Sequence[int | str]) -> str:
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


def _offered_languages(document: Marked) -> tuple[str, ...]:
    """The languages the texts must be written in (audience.languages, or both)."""
    audience = document.get("audience")
    wanted = audience.get("languages") if isinstance(audience, dict) else None
    if isinstance(wanted, list) and wanted and all(w in LANGUAGES for w in wanted):
        return tuple(wanted)
    return LANGUAGES


def _read_file(
    path: Path, kind: QuestionnaireKind, problems: Problems
) -> tuple[Marked | None, QuizIn | SurveyIn | None]:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_MarkingLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.add(path, mark.line + 1 if mark else 0, "yaml", str(exc).replace("\n", " "))
        return None, None
    if not isinstance(document, Marked):
        problems.add(path, 1, "file", f"must be one {kind.value} (a mapping with code, title, ...)")
        return None, None
    model = QuizIn if kind is QuestionnaireKind.QUIZ else SurveyIn
    try:
        content = model.model_validate(
            document, context={"languages": _offered_languages(document)}
        )
    except ValidationError as exc:
        for error in exc.errors():
            loc = error["loc"]
            message = error["msg"].removeprefix("Value error, ")
            problems.add(path, _line_at(document, loc), _where(loc) or "file", message)
        return document, None
    return document, content


def _question_texts_unique(
    path: Path, document: Marked, content: QuizIn | SurveyIn, problems: Problems
) -> None:
    seen: dict[str, int] = {}
    for n, question in enumerate(content.questions):
        key = question_key(_kind_of(question), question.text.as_dict())
        line = _line_at(document, ("questions", n))
        if key in seen:
            problems.add(
                path, line, f"questions[{n}]", f"the same question as questions[{seen[key]}]"
            )
        seen.setdefault(key, n)


def read_questionnaires(content_dir: Path = CONTENT_DIR) -> tuple[Questionnaires, list[str]]:
    """Every quiz module and survey, and every problem found (``file:line: where: what``)."""
    problems = Problems()
    found = Questionnaires()
    folders = ((QUIZ_DIR, QuestionnaireKind.QUIZ), (SURVEY_DIR, QuestionnaireKind.SURVEY))
    for folder, kind in folders:
        codes: dict[str, tuple[Path, int]] = {}
        directory = content_dir / folder
        paths = sorted(directory.glob("*.yml")) + sorted(directory.glob("*.yaml"))
        for path in paths:
            document, content = _read_file(path, kind, problems)
            code = document.get("code") if isinstance(document, Marked) else None
            if isinstance(document, Marked) and isinstance(code, str):
                line = document.key_lines.get("code", document.line)
                if code.strip() in codes:
                    first, first_line = codes[code.strip()]
                    problems.add(
                        path, line, "code", f"{code.strip()} already used by {first}:{first_line}"
                    )
                    continue
                codes[code.strip()] = (path, line)
            if content is None or document is None:
                continue
            _question_texts_unique(path, document, content, problems)
            found.items.append(QuestionnaireFile(path, kind, content))
    return found, problems.items


# --- what is stored ------------------------------------------------------------------------


def question_key(kind: QuestionKind, text: dict[str, str]) -> str:
    """A short stable id of a question: the same kind and texts give the same key."""
    raw = f"{kind.value}\n{text.get('id', '')}\n{text.get('en', '')}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


def _kind_of(question: QuizQuestion | SurveyQuestion) -> QuestionKind:
    return question.kind if isinstance(question, SurveyQuestion) else QuestionKind.CHOICE


def stored_questions(content: QuizIn | SurveyIn) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = []
    for question in content.questions:
        kind = _kind_of(question)
        text = question.text.as_dict()
        item: dict[str, Any] = {
            "key": question_key(kind, text),
            "kind": kind.value,
            "text": text,
            "choices": [],
            "explanation": None,
            "labels": None,
            "max_length": None,
        }
        if isinstance(question, QuizQuestion):
            item["choices"] = [
                {"text": c.text.as_dict(), "correct": c.correct} for c in question.choices
            ]
            item["explanation"] = question.explanation.as_dict()
        else:
            item["choices"] = [
                {"text": c.text.as_dict(), "correct": False} for c in question.choices
            ]
            if question.labels is not None:
                item["labels"] = {
                    "low": question.labels.low.as_dict(),
                    "high": question.labels.high.as_dict(),
                }
            if kind is QuestionKind.TEXT:
                item["max_length"] = question.max_length
        stored.append(item)
    return stored


@dataclass(frozen=True)
class LoadSummary:
    quizzes: int
    surveys: int
    deactivated: int
    announced: int = 0  # quiz_new notices queued


def _source(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[-3:]) if len(parts) >= 3 else str(path)


def _announce(session: Session, quiz: Questionnaire, now: datetime) -> int:
    """Queue ``quiz_new`` for each active partner the new module is offered to."""
    today = wib_date(now)
    candidates = session.scalars(
        select(Partner).where(Partner.status == PartnerStatus.ACTIVE.value).order_by(Partner.id)
    ).all()
    notices = [
        notifications.NewNotice(
            partner_id=partner.id,
            wa_id=partner.wa_id,
            params={
                "quiz_code": quiz.code,
                "title_id": quiz.title.get("id") or quiz.code,
                "title_en": quiz.title.get("en") or quiz.code,
                "points": int(quiz.points),
            },
            dedupe_key=f"quiz_new:{quiz.code}:{partner.id}",
        )
        for partner in candidates
        # The tier is computed only for a module that names tiers (the costly filter).
        if questionnaires.audience_matches(
            quiz, partner, questionnaires.tier_of(session, partner, now), today
        )
    ]
    return notifications.enqueue_many(session, "quiz_new", notices, now=now)


def apply_questionnaires(
    session: Session, found: Questionnaires, *, notify: bool = True
) -> LoadSummary:
    """Upsert by (kind, code); deactivate what the folders no longer have; ``notify``:
    announce quiz modules loaded for the first time (``quiz_new``).

    Joins the caller's write transaction (the seed's) or runs its own.
    """
    now = utcnow()
    deactivated = 0
    announced = 0
    with write_transaction(session):
        new_quizzes: list[Questionnaire] = []
        existing = {(q.kind, q.code): q for q in session.scalars(select(Questionnaire))}
        for item in found.items:
            content = item.content
            row = existing.pop((item.kind.value, content.code), None)
            if row is None:
                row = Questionnaire(kind=item.kind.value, code=content.code)
                session.add(row)
                if item.kind is QuestionnaireKind.QUIZ:
                    new_quizzes.append(row)
            row.title = content.title.as_dict()
            row.points = content.points
            row.roles = list(content.audience.roles)
            row.regions = list(content.audience.regions)
            row.tiers = list(content.audience.tiers)
            row.languages = list(content.audience.languages)
            row.starts_on, row.ends_on = content.window.from_, content.window.to
            row.questions = stored_questions(content)
            row.source = _source(item.path)
            row.active, row.updated_at = content.active, now
            if isinstance(content, QuizIn):
                row.intro = content.lesson.as_dict()
                row.media = content.lesson_media.model_dump() if content.lesson_media else None
                row.pass_mark_percent = content.pass_mark_percent
                row.attempts_per_day = content.attempts_per_day
            else:
                row.intro = content.intro.as_dict()
                row.media = None
                row.pass_mark_percent = None
                row.attempts_per_day = None
        for row in existing.values():
            if row.active:
                row.active, row.updated_at = False, now
                deactivated += 1
        session.flush()
        if notify:
            for quiz in new_quizzes:
                announced += _announce(session, quiz, now)
    return LoadSummary(
        found.count(QuestionnaireKind.QUIZ),
        found.count(QuestionnaireKind.SURVEY),
        deactivated,
        announced,
    )


class QuestionnaireContentError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def load_questionnaires(
    session: Session, content_dir: Path = CONTENT_DIR, *, notify: bool = True
) -> LoadSummary:
    """Read, check and apply; raises ``QuestionnaireContentError`` when anything is wrong."""
    found, problems = read_questionnaires(content_dir)
    if problems:
        raise QuestionnaireContentError(problems)
    return apply_questionnaires(session, found, notify=notify)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="validate only, no database")
    parser.add_argument("--content-dir", type=Path, default=CONTENT_DIR)
    parser.add_argument(
        "--no-notify", action="store_true", help="do not announce new quiz modules to partners"
    )
    args = parser.parse_args(argv)
    found, problems = read_questionnaires(args.content_dir)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s): nothing loaded", file=sys.stderr)
        return 2
    quizzes, surveys = found.count(QuestionnaireKind.QUIZ), found.count(QuestionnaireKind.SURVEY)
    if args.check:
        print(f"questionnaires ok: {_count(quizzes, 'quiz module')}, {_count(surveys, 'survey')}")
        return 0
    from app.core.db import get_session_factory  # here: --check needs no database

    with get_session_factory()() as session:
        summary = apply_questionnaires(session, found, notify=not args.no_notify)
    print(
        f"loaded {_count(summary.quizzes, 'quiz module')}, {_count(summary.surveys, 'survey')} "
        f"({summary.deactivated} deactivated, {_count(summary.announced, 'notice')} queued)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
