"""Refusals of the quiz and survey engine (app/services/questionnaires.py).

Each carries a machine ``code`` that the API returns next to ``detail``
(``{"detail": "...", "code": "attempt_limit", ...}``), so the bot can word the answer
itself; ``STATUS`` is their HTTP status (installed by app/api/errors.py).
"""

from datetime import date
from typing import Any

from app.services.errors import DomainError


class QuestionnaireRefusal(DomainError):
    """Base class: a quiz or survey request the engine will not do, and why."""

    code = "refused"

    @property
    def fields(self) -> dict[str, Any]:
        return {"code": self.code}


class QuestionnaireNotFound(QuestionnaireRefusal):
    detail = "no such quiz or survey"
    code = "not_found"


class NotOffered(QuestionnaireRefusal):
    """Not for this partner now: role, region, tier, language, dates, or retired."""

    detail = "not offered to this partner"
    code = "not_offered"


class AttemptLimitReached(QuestionnaireRefusal):
    detail = "no attempts left today"
    code = "attempt_limit"

    def __init__(self, attempts_per_day: int, retry_on: date) -> None:
        super().__init__(f"all {attempts_per_day} attempts of today are used")
        self.attempts_per_day = attempts_per_day
        self.retry_on = retry_on

    @property
    def fields(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "attempts_per_day": self.attempts_per_day,
            "retry_on": self.retry_on.isoformat(),
        }


class AlreadyCompleted(QuestionnaireRefusal):
    """A survey is answered once per partner."""

    detail = "survey already answered"
    code = "already_answered"


class AttemptNotFound(QuestionnaireRefusal):
    detail = "attempt not found"
    code = "attempt_not_found"


class OutOfOrder(QuestionnaireRefusal):
    """An answer to a question that is not the one waiting (``question_no`` is)."""

    detail = "another question is waiting"
    code = "out_of_order"

    def __init__(self, waiting_question_no: int | None) -> None:
        if waiting_question_no is None:
            super().__init__("the attempt is finished")
        else:
            super().__init__(f"question {waiting_question_no} is waiting")
        self.waiting_question_no = waiting_question_no

    @property
    def fields(self) -> dict[str, Any]:
        return {"code": self.code, "question_no": self.waiting_question_no}


class InvalidAnswer(QuestionnaireRefusal):
    """The answer does not fit the question (a label it does not have, 7 on a 1-5 scale)."""

    detail = "invalid answer"
    code = "invalid_answer"


STATUS: dict[type[DomainError], int] = {
    QuestionnaireNotFound: 404,
    AttemptNotFound: 404,
    NotOffered: 409,
    AttemptLimitReached: 409,
    AlreadyCompleted: 409,
    OutOfOrder: 409,
    InvalidAnswer: 422,
}
