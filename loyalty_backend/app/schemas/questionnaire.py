"""Quizzes and surveys over HTTP: what the action server and admins read and send.

Texts are ``{"id", "en"}``; the bot picks the partner's language. A question never says
which choice is right: that comes with the answer (``correct_choice``).
"""

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.clock import wib_date
from app.models import Partner, Questionnaire, QuestionnaireAnswer
from app.models import QuestionnaireAttempt as Attempt
from app.models.questionnaire import AttemptStatus
from app.schemas.common import UTCDatetime
from app.services import questionnaire_reports as reports
from app.services import questionnaires as engine

QuestionKindName = Literal["choice", "scale", "text"]


class Bilingual(BaseModel):
    id: str
    en: str


def _text(value: dict[str, str] | None) -> Bilingual:
    value = value or {}
    return Bilingual(id=value.get("id") or "", en=value.get("en") or "")


class ChoiceOut(BaseModel):
    label: str  # "A", "B", ... in the order this attempt shows them
    text: Bilingual


class ScaleOut(BaseModel):
    min: int
    max: int
    low: Bilingual | None  # what the lowest value means
    high: Bilingual | None


class QuestionOut(BaseModel):
    question_no: int  # 1-based, in this attempt's order
    questions: int  # how many in all
    kind: QuestionKindName
    text: Bilingual
    choices: list[ChoiceOut]
    scale: ScaleOut | None
    max_length: int | None  # a text question's longest answer

    @classmethod
    def build(cls, attempt: Attempt, question_no: int) -> "QuestionOut":
        question = attempt.questions[question_no - 1]
        labels = question.get("labels") or {}
        return cls(
            question_no=question_no,
            questions=len(attempt.questions),
            kind=question["kind"],
            text=_text(question["text"]),
            choices=[
                ChoiceOut(label=label, text=_text(text))
                for label, text in engine.shown_choices(question)
            ],
            scale=ScaleOut(
                min=engine.SCALE_MIN,
                max=engine.SCALE_MAX,
                low=_text(labels["low"]) if labels.get("low") else None,
                high=_text(labels["high"]) if labels.get("high") else None,
            )
            if question["kind"] == "scale"
            else None,
            max_length=question.get("max_length"),
        )


def waiting_question(attempt: Attempt) -> QuestionOut | None:
    """The question the attempt waits for, or None when it is finished."""
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return None
    return QuestionOut.build(attempt, attempt.answered + 1)


class InProgressOut(BaseModel):
    attempt_id: int
    question_no: int  # the question waiting
    questions: int


def _in_progress(attempt: Attempt | None) -> InProgressOut | None:
    if attempt is None:
        return None
    return InProgressOut(
        attempt_id=attempt.id, question_no=attempt.answered + 1, questions=len(attempt.questions)
    )


class QuizOfferOut(BaseModel):
    code: str
    title: Bilingual
    points: int  # credited on the first pass
    pass_mark_percent: int
    questions: int
    attempts_per_day: int
    attempts_left_today: int
    passed: bool
    passed_on: date | None  # WIB date of the first pass
    in_progress: InProgressOut | None
    available_until: date | None

    @classmethod
    def build(cls, offer: engine.Offer) -> "QuizOfferOut":
        q = offer.questionnaire
        first = offer.first_pass
        return cls(
            code=q.code,
            title=_text(q.title),
            points=q.points,
            pass_mark_percent=q.pass_mark_percent or 100,
            questions=len(q.questions),
            attempts_per_day=q.attempts_per_day or 0,
            attempts_left_today=offer.attempts_left_today or 0,
            passed=first is not None,
            passed_on=wib_date(first.completed_at) if first and first.completed_at else None,
            in_progress=_in_progress(offer.in_progress),
            available_until=offer.available_until,
        )


class QuizListOut(BaseModel):
    items: list[QuizOfferOut]


class SurveyOfferOut(BaseModel):
    code: str
    title: Bilingual
    points: int  # the thank-you (0: none)
    questions: int
    completed: bool
    completed_on: date | None
    in_progress: InProgressOut | None
    available_until: date | None

    @classmethod
    def build(cls, offer: engine.Offer) -> "SurveyOfferOut":
        q, done = offer.questionnaire, offer.completed
        return cls(
            code=q.code,
            title=_text(q.title),
            points=q.points,
            questions=len(q.questions),
            completed=done is not None,
            completed_on=wib_date(done.completed_at) if done and done.completed_at else None,
            in_progress=_in_progress(offer.in_progress),
            available_until=offer.available_until,
        )


class SurveyListOut(BaseModel):
    items: list[SurveyOfferOut]


class MediaOut(BaseModel):
    type: Literal["image", "document"]
    url: str
    filename: str | None = None


class AttemptOut(BaseModel):
    """A started or resumed attempt and the question waiting."""

    attempt_id: int
    kind: Literal["quiz", "survey"]
    code: str
    title: Bilingual
    intro: Bilingual  # the lesson of a quiz, the introduction of a survey
    media: MediaOut | None
    resumed: bool
    points: int
    pass_mark_percent: int | None
    attempts_left_today: int | None
    already_rewarded: bool  # the partner already got this questionnaire's points
    question: QuestionOut

    @classmethod
    def build(cls, started: engine.Started) -> "AttemptOut":
        q, attempt = started.questionnaire, started.attempt
        question = waiting_question(attempt)
        assert question is not None  # a started attempt is in progress
        return cls(
            attempt_id=attempt.id,
            kind=q.kind,  # type: ignore[arg-type]
            code=q.code,
            title=_text(q.title),
            intro=_text(q.intro),
            media=MediaOut.model_validate(q.media) if q.media else None,
            resumed=started.resumed,
            points=q.points,
            pass_mark_percent=q.pass_mark_percent,
            attempts_left_today=started.attempts_left_today,
            already_rewarded=started.already_rewarded,
            question=question,
        )


class AnswerIn(BaseModel):
    """The answer to question ``question_no`` of the attempt: the label shown ("B") for a
    choice, "1".."5" for a scale, or the partner's text."""

    model_config = ConfigDict(extra="forbid")

    attempt_id: int = Field(ge=1, strict=True)
    question_no: int = Field(ge=1, le=100, strict=True)
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class CorrectChoiceOut(BaseModel):
    label: str
    text: Bilingual


class ResultOut(BaseModel):
    """The end of an attempt. Quiz fields (``correct``, ``score_percent``, ``passed``...)
    are null for a survey."""

    correct: int | None
    questions: int
    score_percent: int | None
    pass_mark_percent: int | None
    passed: bool | None
    points_awarded: int  # credited now (first pass / survey thank-you), else 0
    first_pass: bool
    already_rewarded: bool  # the points came with an earlier attempt
    attempts_left_today: int | None

    @classmethod
    def build(cls, result: engine.Result) -> "ResultOut":
        return cls(**result.__dict__)


class AnswerOut(BaseModel):
    attempt_id: int
    question_no: int
    replayed: bool  # answered before: this is the recorded outcome, nothing changed
    kind: QuestionKindName
    chosen: str | None  # the label picked
    correct: bool | None  # quiz only
    correct_choice: CorrectChoiceOut | None  # quiz only
    explanation: Bilingual | None  # quiz only
    next_question: QuestionOut | None  # the question now waiting (None: finished)
    result: ResultOut | None  # when this answer finished the attempt

    @classmethod
    def build(cls, answered: engine.Answered) -> "AnswerOut":
        question, row = answered.question, answered.answer
        right = engine.correct_choice(question) if answered.questionnaire.kind == "quiz" else None
        return cls(
            attempt_id=answered.attempt.id,
            question_no=row.question_no,
            replayed=answered.replayed,
            kind=question["kind"],
            chosen=row.choice_label,
            correct=row.is_correct,
            correct_choice=CorrectChoiceOut(label=right[0], text=_text(right[1]))
            if right
            else None,
            explanation=_text(question["explanation"]) if question.get("explanation") else None,
            next_question=waiting_question(answered.attempt),
            result=ResultOut.build(answered.result) if answered.result else None,
        )


class CompletedModuleOut(BaseModel):
    code: str
    title: Bilingual
    passed_at: UTCDatetime
    passed_on: date  # WIB
    score_percent: int
    points_awarded: int
    attempts: int

    @classmethod
    def build(cls, done: engine.CompletedModule) -> "CompletedModuleOut":
        return cls(
            code=done.questionnaire.code,
            title=_text(done.questionnaire.title),
            passed_at=done.passed_at,
            passed_on=wib_date(done.passed_at),
            score_percent=done.score_percent,
            points_awarded=done.points_awarded,
            attempts=done.attempts,
        )


class TrainingRecordOut(BaseModel):
    items: list[CompletedModuleOut]


# --- admin --------------------------------------------------------------------------------


class AdminPartnerOut(BaseModel):
    wa_id: str
    name: str
    shop_name: str | None
    role: str
    region: str


class AdminAnswerOut(BaseModel):
    question_no: int
    question_key: str
    choice_label: str | None
    choice_index: int | None  # the choice's position in the content file (0-based)
    is_correct: bool | None
    scale_value: int | None
    text_value: str | None
    answered_at: UTCDatetime
    seconds: float  # after the question was shown
    too_fast: bool

    @classmethod
    def build(cls, answer: QuestionnaireAnswer) -> "AdminAnswerOut":
        return cls(
            question_no=answer.question_no,
            question_key=answer.question_key,
            choice_label=answer.choice_label,
            choice_index=answer.choice_index,
            is_correct=answer.is_correct,
            scale_value=answer.scale_value,
            text_value=answer.text_value,
            answered_at=answer.answered_at,
            seconds=round(answer.elapsed_ms / 1000, 1),
            too_fast=answer.too_fast,
        )


class AdminAttemptOut(BaseModel):
    attempt_id: int
    partner: AdminPartnerOut
    status: Literal["in_progress", "completed"]
    started_at: UTCDatetime
    completed_at: UTCDatetime | None
    answered: int
    questions: int
    correct: int | None
    score_percent: int | None
    passed: bool | None
    points_awarded: int
    too_fast_answers: int
    flags: list[dict[str, Any]]
    answers: list[AdminAnswerOut]

    @classmethod
    def build(cls, row: reports.AttemptRow, is_quiz: bool) -> "AdminAttemptOut":
        attempt, partner = row.attempt, row.partner
        return cls(
            attempt_id=attempt.id,
            partner=_partner(partner),
            status=attempt.status,  # type: ignore[arg-type]
            started_at=attempt.started_at,
            completed_at=attempt.completed_at,
            answered=attempt.answered,
            questions=len(attempt.questions),
            correct=attempt.correct if is_quiz else None,
            score_percent=attempt.score_percent,
            passed=attempt.passed,
            points_awarded=attempt.points_awarded,
            too_fast_answers=attempt.too_fast_answers,
            flags=list(attempt.flags),
            answers=[AdminAnswerOut.build(answer) for answer in row.answers],
        )


def _partner(partner: Partner) -> AdminPartnerOut:
    return AdminPartnerOut(
        wa_id=partner.wa_id,
        name=partner.name,
        shop_name=partner.shop_name,
        role=partner.role,
        region=partner.region,
    )


class AdminAttemptListOut(BaseModel):
    items: list[AdminAttemptOut]
    total: int
    limit: int
    offset: int


class ChoiceSummaryOut(BaseModel):
    index: int
    text: Bilingual
    correct: bool | None
    picked: int


class ScaleSummaryOut(BaseModel):
    counts: dict[str, int]  # "1".."5" -> answers
    average: float | None


class QuestionSummaryOut(BaseModel):
    question_key: str
    kind: QuestionKindName
    text: Bilingual
    in_content: bool  # false: no longer in the file (answers from before)
    answers: int
    correct: int | None
    correct_share: float | None
    average_seconds: float | None
    too_fast: int
    choices: list[ChoiceSummaryOut]
    scale: ScaleSummaryOut | None
    latest_texts: list[str]  # newest first, at most 20

    @classmethod
    def build(cls, item: reports.QuestionSummary) -> "QuestionSummaryOut":
        return cls(
            question_key=item.question_key,
            kind=item.kind,  # type: ignore[arg-type]
            text=_text(item.text),
            in_content=item.in_content,
            answers=item.answers,
            correct=item.correct,
            correct_share=item.correct_share,
            average_seconds=item.average_seconds,
            too_fast=item.too_fast,
            choices=[
                ChoiceSummaryOut(
                    index=c.index, text=_text(c.text), correct=c.correct, picked=c.picked
                )
                for c in item.choices
            ],
            scale=ScaleSummaryOut(
                counts={str(k): v for k, v in sorted(item.scale_counts.items())},
                average=item.scale_average,
            )
            if item.kind == "scale"
            else None,
            latest_texts=list(item.texts),
        )


class SummaryOut(BaseModel):
    kind: Literal["quiz", "survey"]
    code: str
    title: Bilingual
    active: bool
    attempts: int
    completed: int
    passed: int | None
    pass_rate: float | None  # passed / completed
    partners: int
    flagged_attempts: int  # with at least one too-fast answer
    points_awarded: int
    questions: list[QuestionSummaryOut]

    @classmethod
    def build(cls, found: reports.Summary) -> "SummaryOut":
        q: Questionnaire = found.questionnaire
        return cls(
            kind=q.kind,  # type: ignore[arg-type]
            code=q.code,
            title=_text(q.title),
            active=q.active,
            attempts=found.attempts,
            completed=found.completed,
            passed=found.passed,
            pass_rate=found.pass_rate,
            partners=found.partners,
            flagged_attempts=found.flagged_attempts,
            points_awarded=found.points_awarded,
            questions=[QuestionSummaryOut.build(item) for item in found.questions],
        )
