"""A partner's training quizzes and surveys (service token): list, start or resume, answer,
and the training record. The engine is app/services/questionnaires.py."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.api.deps import PartnerActor, PartnerReader, SessionDep, WaIdPath
from app.commands.load_questionnaires import CODE_PATTERN
from app.models.questionnaire import QuestionnaireKind
from app.schemas.questionnaire import (
    AnswerIn,
    AnswerOut,
    AttemptOut,
    CompletedModuleOut,
    QuizListOut,
    QuizOfferOut,
    SurveyListOut,
    SurveyOfferOut,
    TrainingRecordOut,
)
from app.services import partners
from app.services import questionnaires as engine

router = APIRouter(prefix="/partners/by-wa/{wa_id}", tags=["quizzes"])

CodePath = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=CODE_PATTERN, examples=["kopi-susu-101"]),
]

_START_RESPONSES = {
    200: {"model": AttemptOut, "description": "Resumed: the attempt in progress, same question"},
    403: {"description": "missing scope, or the partner is suspended / has left"},
    404: {"description": '{"detail", "code": "not_found"}: no such quiz or survey'},
    409: {
        "description": '{"detail", "code": "not_offered"} (role, region, tier, language, '
        'dates); "attempt_limit" (quiz, with "attempts_per_day" and "retry_on"); '
        '"already_answered" (survey)'
    },
}
_ANSWER_RESPONSES = {
    403: {"description": "missing scope, or the partner is suspended / has left"},
    404: {"description": '{"detail", "code": "attempt_not_found"}'},
    409: {"description": '{"detail", "code": "out_of_order", "question_no": the one waiting}'},
    422: {"description": '{"detail", "code": "invalid_answer"}, or a malformed body'},
}


def _start(
    kind: QuestionnaireKind,
    wa_id: str,
    code: str,
    response: Response,
    session: SessionDep,
    actor: str,
) -> AttemptOut:
    partner = partners.get_member(session, wa_id)
    started = engine.start(session, partner, kind, code, actor=actor)
    if started.resumed:
        response.status_code = status.HTTP_200_OK
    return AttemptOut.build(started)


def _answer(
    kind: QuestionnaireKind, wa_id: str, code: str, body: AnswerIn, session: SessionDep, actor: str
) -> AnswerOut:
    partner = partners.get_member(session, wa_id)
    answered = engine.answer(
        session,
        partner,
        kind,
        code,
        attempt_id=body.attempt_id,
        question_no=body.question_no,
        raw_answer=body.answer,
        actor=actor,
    )
    return AnswerOut.build(answered)


# --- quizzes ------------------------------------------------------------------------------


@router.get("/quizzes", response_model=QuizListOut)
def list_quizzes(wa_id: WaIdPath, session: SessionDep, _caller: PartnerReader) -> QuizListOut:
    """The modules this partner may take now (role, region, tier, language, dates), with
    points on offer, attempts left today, whether passed, and the place of one in progress."""
    partner = partners.get_member(session, wa_id)
    found = engine.offers(session, partner, QuestionnaireKind.QUIZ)
    return QuizListOut(items=[QuizOfferOut.build(offer) for offer in found])


@router.get("/quizzes/record", response_model=TrainingRecordOut)
def training_record(
    wa_id: WaIdPath, session: SessionDep, _caller: PartnerReader
) -> TrainingRecordOut:
    """The modules the partner has passed, with the date of the first pass (newest first)."""
    partner = partners.get_member(session, wa_id)
    done = engine.training_record(session, partner)
    return TrainingRecordOut(items=[CompletedModuleOut.build(item) for item in done])


@router.post(
    "/quizzes/{code}/start",
    response_model=AttemptOut,
    status_code=status.HTTP_201_CREATED,
    responses=_START_RESPONSES,
)
def start_quiz(
    wa_id: WaIdPath, code: CodePath, response: Response, session: SessionDep, caller: PartnerActor
) -> AttemptOut:
    """Start a module (201: lesson and first question) or resume the attempt in progress
    (200: the question it stopped at)."""
    return _start(QuestionnaireKind.QUIZ, wa_id, code, response, session, caller.name)


@router.post("/quizzes/{code}/answer", response_model=AnswerOut, responses=_ANSWER_RESPONSES)
def answer_quiz(
    wa_id: WaIdPath, code: CodePath, body: AnswerIn, session: SessionDep, caller: PartnerActor
) -> AnswerOut:
    """Answer the waiting question: right or wrong with the explanation, then the next
    question or the score (points on the first pass only). Answering an answered question
    again returns its recorded outcome (``replayed``)."""
    return _answer(QuestionnaireKind.QUIZ, wa_id, code, body, session, caller.name)


# --- surveys ------------------------------------------------------------------------------


@router.get("/surveys", response_model=SurveyListOut)
def list_surveys(wa_id: WaIdPath, session: SessionDep, _caller: PartnerReader) -> SurveyListOut:
    """The surveys offered to this partner now, answered or not."""
    partner = partners.get_member(session, wa_id)
    found = engine.offers(session, partner, QuestionnaireKind.SURVEY)
    return SurveyListOut(items=[SurveyOfferOut.build(offer) for offer in found])


@router.post(
    "/surveys/{code}/start",
    response_model=AttemptOut,
    status_code=status.HTTP_201_CREATED,
    responses=_START_RESPONSES,
)
def start_survey(
    wa_id: WaIdPath, code: CodePath, response: Response, session: SessionDep, caller: PartnerActor
) -> AttemptOut:
    """Start a survey (201) or resume it where the partner left (200)."""
    return _start(QuestionnaireKind.SURVEY, wa_id, code, response, session, caller.name)


@router.post("/surveys/{code}/answer", response_model=AnswerOut, responses=_ANSWER_RESPONSES)
def answer_survey(
    wa_id: WaIdPath, code: CodePath, body: AnswerIn, session: SessionDep, caller: PartnerActor
) -> AnswerOut:
    """Answer the waiting survey question; the last answer ends it (and credits the
    thank-you points once, if the survey has any)."""
    return _answer(QuestionnaireKind.SURVEY, wa_id, code, body, session, caller.name)
