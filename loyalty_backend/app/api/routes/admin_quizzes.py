"""Quiz attempts and survey answers for trainers and the program team (admin key, scope
``quizzes:read``), each with a per-question summary."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import QuizzesReader, SessionDep
from app.commands.load_questionnaires import CODE_PATTERN
from app.models.questionnaire import AttemptStatus, QuestionnaireKind
from app.schemas.questionnaire import AdminAttemptListOut, AdminAttemptOut, SummaryOut
from app.services import questionnaire_reports as reports

router = APIRouter(prefix="/admin", tags=["admin-quizzes"])

CodePath = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=CODE_PATTERN, examples=["kopi-susu-101"]),
]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
_NOT_FOUND = {404: {"description": '{"detail", "code": "not_found"}'}}


def _attempts(
    session: SessionDep,
    kind: QuestionnaireKind,
    code: str,
    status: AttemptStatus | None,
    flagged: bool | None,
    limit: int,
    offset: int,
) -> AdminAttemptListOut:
    rows, total = reports.list_attempts(
        session, kind, code, status=status, flagged=flagged, limit=limit, offset=offset
    )
    is_quiz = kind is QuestionnaireKind.QUIZ
    return AdminAttemptListOut(
        items=[AdminAttemptOut.build(row, is_quiz) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/quizzes/{code}/attempts", response_model=AdminAttemptListOut, responses=_NOT_FOUND)
def quiz_attempts(
    code: CodePath,
    session: SessionDep,
    _caller: QuizzesReader,
    status: AttemptStatus | None = None,
    flagged: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AdminAttemptListOut:
    """A module's attempts, newest first, with every answer and its timing
    (``?flagged=true``: attempts with answers faster than a person can read)."""
    return _attempts(session, QuestionnaireKind.QUIZ, code, status, flagged, limit, offset)


@router.get("/quizzes/{code}/summary", response_model=SummaryOut, responses=_NOT_FOUND)
def quiz_summary(code: CodePath, session: SessionDep, _caller: QuizzesReader) -> SummaryOut:
    """Attempts, passes, and per question the share right and each choice's picks."""
    return SummaryOut.build(reports.summary(session, QuestionnaireKind.QUIZ, code))


@router.get("/surveys/{code}/responses", response_model=AdminAttemptListOut, responses=_NOT_FOUND)
def survey_responses(
    code: CodePath,
    session: SessionDep,
    _caller: QuizzesReader,
    status: AttemptStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AdminAttemptListOut:
    """A survey's responses, newest first, with every answer."""
    return _attempts(session, QuestionnaireKind.SURVEY, code, status, None, limit, offset)


@router.get("/surveys/{code}/summary", response_model=SummaryOut, responses=_NOT_FOUND)
def survey_summary(code: CodePath, session: SessionDep, _caller: QuizzesReader) -> SummaryOut:
    """Per question: choice counts, the 1-5 distribution and average, the latest texts."""
    return SummaryOut.build(reports.summary(session, QuestionnaireKind.SURVEY, code))
