"""Training quizzes and surveys (issue 19): list what the partner may take, show a lesson
and its questions one by one in ``questionnaire_form``, read every answer (taps and
words like "b", "yang kedua", "jawaban c"), and show what the backend decided.

The backend owns everything that counts: which modules a partner may take, the attempt
and its place (so leaving with "stop", or a Rasa restart, resumes at the same question),
the score, the pass and the points. This module only asks and renders.

Slots (bot/domain.yml):
- ``questionnaire``: the question on screen, as the backend gave it, with what is needed
  to answer it: ``{"kind": "quiz"|"survey", "code", "attempt_id", "title", "question",
  "fresh"}``. ``fresh`` is True when the question was not shown yet (the form's ask shows
  it plainly); a question asked again after another request gets "your quiz is waiting".
- ``questionnaire_answer``: the form's one required slot. ``extract_questionnaire_answer``
  decides whether a message is meant for the question (an answer, a "stop", or something
  to ask about again) or is another request (``INTERRUPTING_INTENTS``: answered by the
  rules "... while a quiz waits", then the question is shown again). ``done`` ends the form.
- ``questionnaire_stage``: ``question`` while the form runs, ``idle`` otherwise.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import structlog
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import quiz_answers
from actions.backend_client import (
    BackendClient,
    BackendConflict,
    BackendRefused,
    BackendUnavailable,
    PartnerInactive,
    PartnerNotFound,
    get_client,
)
from actions.base import INACTIVE_RESPONSES, PartnerAction
from actions.conversation import FLOW_INTERRUPTING_INTENTS
from actions.formatting import format_date, format_points, localised, normalise_language
from actions.logging_utils import mask_id
from actions.offload import in_worker_thread

logger = structlog.get_logger(__name__)

FORM = "questionnaire_form"
ANSWER = "questionnaire_answer"
STATE = "questionnaire"
STAGE = "questionnaire_stage"
STAGE_QUESTION, STAGE_IDLE = "question", "idle"
DONE = "done"  # questionnaire_answer value that ends the form
QUIZ, SURVEY = "quiz", "survey"
# The backend's collection for each kind (docs/contracts.md).
COLLECTION = {QUIZ: "quizzes", SURVEY: "surveys"}
ENTITY = {QUIZ: "quiz_code", SURVEY: "survey_code"}

# Other requests while a question waits: answered by a rule ("... while a quiz waits" in
# bot/data/rules/rules_quizzes.yml; a test keeps both lists equal), then the question is
# shown again. Anything else the partner sends is read as meant for the question.
INTERRUPTING_INTENTS = (
    "check_balance", "tier_status", "points_history", "expiring_points", "claim_status",
    "help", "menu", "change_language", "quiz_record", "start_quiz", "start_survey",
    *FLOW_INTERRUPTING_INTENTS,
)
MAX_LIST_BUTTONS = 9  # a WhatsApp list has 10 rows; one is "My training"
# Words on buttons the actions build (the rest of what partners read is in the domain).
BUTTON_WORDS = {
    "retry": {"id": "Coba lagi", "en": "Try again"},
    "record": {"id": "Training saya", "en": "My training"},
    "other_modules": {"id": "Modul lain", "en": "Other modules"},
}


# ----------------------------------------------------------------------- helpers


def _latest(tracker: Tracker) -> dict[str, Any]:
    return tracker.latest_message or {}


def _intent(tracker: Tracker) -> str:
    return (_latest(tracker).get("intent") or {}).get("name") or ""


def _text(tracker: Tracker) -> str:
    return str(_latest(tracker).get("text") or "")


def _entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value not in (None, "") else None


def _is_button(text: str) -> bool:
    return text.startswith("/")  # typed text never starts with "/" (the connector strips it)


def _step(state: dict[str, Any]) -> str:
    """Which question of which attempt a button answers: ``<attempt id>-<question no>``."""
    return f"{state['attempt_id']}-{state['question']['question_no']}"


def _payload(intent: str, **entities: str) -> str:
    """A button's payload: ``/intent{"entity": "value", ...}`` (what the connector sends)."""
    return f"/{intent}{json.dumps(entities)}" if entities else f"/{intent}"


def _button(key: str, language: str, payload: str) -> dict[str, str]:
    return {"title": BUTTON_WORDS[key][language], "payload": payload}


def _state(kind: str, attempt: dict[str, Any], question: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "code": attempt["code"],
        "attempt_id": attempt["attempt_id"],
        "title": attempt["title"],
        "question": question,
        "fresh": True,
    }


def show_question(
    dispatcher: CollectingDispatcher, state: dict[str, Any], language: str
) -> None:
    """The waiting question, its choices in the body (A, B, C...) and as buttons."""
    question = state["question"]
    common = {
        "number": question["question_no"],
        "total": question["questions"],
        "question": localised(question["text"], language),
    }
    step = _step(state)
    if question["kind"] == "choice":
        choices = [(c["label"], localised(c["text"], language)) for c in question["choices"]]
        dispatcher.utter_message(
            response="utter_quiz_question" if state["kind"] == QUIZ else "utter_survey_choice",
            choices="\n".join(f"*{label}.* {text}" for label, text in choices),
            buttons=[
                {"title": f"{label}. {text}",
                 "payload": _payload("answer_quiz", quiz_choice=label, quiz_step=step)}
                for label, text in choices
            ],
            **common,
        )
    elif question["kind"] == "scale":
        scale = question.get("scale") or {"min": 1, "max": 5}
        low, high = localised(scale.get("low"), language), localised(scale.get("high"), language)
        values = range(scale["min"], scale["max"] + 1)
        dispatcher.utter_message(
            response="utter_survey_scale", low=low or "-", high=high or "-",
            buttons=[
                {"title": f"{value} – {low}" if value == scale["min"] and low
                 else f"{value} – {high}" if value == scale["max"] and high else str(value),
                 "payload": _payload("answer_quiz", quiz_choice=str(value), quiz_step=step)}
                for value in values
            ],
            **common,
        )
    else:
        dispatcher.utter_message(response="utter_survey_text", **common)


def show_start(
    dispatcher: CollectingDispatcher, kind: str, attempt: dict[str, Any], language: str
) -> None:
    """The lesson (quiz) or introduction (survey); or where a resumed one stands."""
    title = localised(attempt["title"], language)
    question = attempt["question"]
    if attempt.get("resumed"):
        dispatcher.utter_message(
            response="utter_quiz_resumed" if kind == QUIZ else "utter_survey_resumed",
            title=title, number=question["question_no"], total=question["questions"],
        )
        return
    if kind == SURVEY:
        dispatcher.utter_message(response="utter_survey_intro", title=title,
                                 intro=localised(attempt["intro"], language))
        return
    media = attempt.get("media") or None
    extra: dict[str, Any] = {}
    if media and media.get("type") == "image":
        extra["image"] = media["url"]
    elif media:
        extra["attachment"] = {"type": "document", "url": media["url"],
                               "filename": media.get("filename")}
    common = {
        "title": title,
        "lesson": localised(attempt["intro"], language),
        "total": question["questions"],
        "pass_mark": attempt.get("pass_mark_percent") or 100,
        "points": format_points(attempt.get("points") or 0, language),
    }
    rewarded = attempt.get("already_rewarded") or not attempt.get("points")
    dispatcher.utter_message(
        response="utter_quiz_lesson_practice" if rewarded else "utter_quiz_lesson",
        **common, **extra,
    )


def show_result(
    dispatcher: CollectingDispatcher, state: dict[str, Any], result: dict[str, Any],
    language: str,
) -> None:
    points = format_points(result.get("points_awarded") or 0, language)
    if state["kind"] == SURVEY:
        if result.get("points_awarded"):
            dispatcher.utter_message(response="utter_survey_thanks_points", points=points)
        else:
            dispatcher.utter_message(response="utter_survey_thanks")
        return
    common = {
        "title": localised(state["title"], language),
        "correct": result.get("correct") or 0,
        "total": result.get("questions") or 0,
        "score": result.get("score_percent") or 0,
    }
    if result.get("passed"):
        if result.get("points_awarded"):
            response = "utter_quiz_passed_points"
        elif result.get("already_rewarded") or not result.get("first_pass"):
            response = "utter_quiz_passed_again"
        else:
            response = "utter_quiz_passed"
        dispatcher.utter_message(response=response, points=points, **common)
        return
    left = result.get("attempts_left_today") or 0
    common["pass_mark"] = result.get("pass_mark_percent") or 100
    if left:
        dispatcher.utter_message(
            response="utter_quiz_failed", left=left, **common,
            buttons=[
                _button("retry", language, _payload("start_quiz", quiz_code=state["code"])),
                _button("other_modules", language, "/start_quiz"),
            ],
        )
    else:
        dispatcher.utter_message(response="utter_quiz_failed_last", **common)


def show_feedback(
    dispatcher: CollectingDispatcher, reply: dict[str, Any], language: str
) -> None:
    """Right or wrong, the right choice, and why (quiz questions only)."""
    if reply.get("correct") is None:
        return
    explanation = localised(reply.get("explanation"), language)
    if reply["correct"]:
        dispatcher.utter_message(response="utter_quiz_correct", explanation=explanation)
        return
    right = reply.get("correct_choice") or {}
    dispatcher.utter_message(
        response="utter_quiz_wrong", label=right.get("label", "?"),
        choice=localised(right.get("text"), language), explanation=explanation,
    )


def start_questionnaire(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str,
    kind: str, code: str,
) -> list[EventType]:
    """Start or resume ``code``; on a refusal, say why (a quiz under way stays as it is)."""
    in_form = tracker.active_loop.get("name") == FORM
    keep = [SlotSet(STAGE, STAGE_QUESTION if in_form else STAGE_IDLE)]
    try:
        attempt = client.start_questionnaire(tracker.sender_id, COLLECTION[kind], code)
    except BackendConflict as error:
        responses = {
            "attempt_limit": "utter_quiz_attempt_limit",
            "already_answered": "utter_survey_already_answered",
        }
        dispatcher.utter_message(response=responses.get(error.code or "", "utter_quiz_not_offered"))
        return keep
    except BackendRefused:
        dispatcher.utter_message(response="utter_quiz_not_offered")
        return keep
    logger.info("questionnaire.started", sender=mask_id(tracker.sender_id), kind=kind,
                code=code, attempt_id=attempt["attempt_id"], resumed=attempt.get("resumed"))
    show_start(dispatcher, kind, attempt, language)
    # Not questionnaire_answer: Rasa would hand a SlotSet of it to the form's validation.
    return [
        SlotSet(STATE, _state(kind, attempt, attempt["question"])),
        SlotSet(STAGE, STAGE_QUESTION),
    ]


def _offer_line(item: dict[str, Any], number: int, language: str) -> str:
    title = localised(item["title"], language)
    head = f"*{number}. {title}*"
    progress = item.get("in_progress")
    if progress:
        status = STATUS_WORDS["in_progress"][language].format(
            number=progress["question_no"], total=progress["questions"])
    elif item.get("passed") and item.get("passed_on"):
        status = STATUS_WORDS["passed"][language].format(
            date=format_date(date.fromisoformat(item["passed_on"]), language))
    elif item.get("attempts_left_today") == 0:
        status = STATUS_WORDS["no_attempts"][language]
    else:
        status = STATUS_WORDS["open"][language].format(
            points=format_points(item["points"], language), total=item["questions"])
    return f"{head}\n   {status}"


def show_quiz_list(
    dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient, language: str
) -> None:
    """The modules this partner may take, how each stands, and a button for each one
    that can be started or continued today."""
    items = client.list_questionnaires(tracker.sender_id, COLLECTION[QUIZ])["items"]
    if not items:
        dispatcher.utter_message(response="utter_quiz_none")
        return
    # Modules in progress first, then the ones not passed yet, then the rest.
    items.sort(key=lambda i: (i.get("in_progress") is None, bool(i.get("passed"))))
    startable = [i for i in items if i.get("in_progress") or i.get("attempts_left_today")]
    buttons = [
        {"title": localised(item["title"], language),
         "payload": _payload("start_quiz", quiz_code=item["code"])}
        for item in startable[:MAX_LIST_BUTTONS]
    ]
    buttons.append(_button("record", language, "/quiz_record"))
    dispatcher.utter_message(
        response="utter_quiz_list",
        modules="\n".join(_offer_line(item, n, language) for n, item in enumerate(items, 1)),
        buttons=buttons,
    )


# How a module stands, in the list (the backend's figures in these words).
STATUS_WORDS = {
    "open": {"id": "🎯 {points} poin · {total} soal",
             "en": "🎯 {points} points · {total} questions"},
    "in_progress": {"id": "▶️ Lanjutkan dari soal {number} dari {total}",
                    "en": "▶️ Continue from question {number} of {total}"},
    "passed": {"id": "✅ Lulus {date}", "en": "✅ Passed {date}"},
    "no_attempts": {"id": "⏳ Kesempatan hari ini habis, coba lagi besok",
                    "en": "⏳ No attempts left today, try again tomorrow"},
}


# ----------------------------------------------------------------------- actions


class ActionStartQuiz(PartnerAction):
    """"kuis" → the modules this partner may take; a module picked → its lesson and the
    first question (or the question where the partner stopped)."""

    def name(self) -> str:
        return "action_start_quiz"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        in_form = tracker.active_loop.get("name") == FORM
        code = _entity(tracker, ENTITY[QUIZ])
        if code:
            return start_questionnaire(dispatcher, tracker, client, language, QUIZ, code)
        if in_form:
            return [SlotSet(STAGE, STAGE_QUESTION)]  # the form shows the waiting question
        show_quiz_list(dispatcher, tracker, client, language)
        return [SlotSet(STAGE, STAGE_IDLE)]


class ActionStartSurvey(PartnerAction):
    """"survei", or the button of a survey the program sent → the survey's first question
    (or where the partner stopped); several open surveys → a list to pick from."""

    def name(self) -> str:
        return "action_start_survey"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        in_form = tracker.active_loop.get("name") == FORM
        code = _entity(tracker, ENTITY[SURVEY])
        if code:
            return start_questionnaire(dispatcher, tracker, client, language, SURVEY, code)
        if in_form:
            return [SlotSet(STAGE, STAGE_QUESTION)]
        items = client.list_questionnaires(tracker.sender_id, COLLECTION[SURVEY])["items"]
        open_items = [item for item in items if not item.get("completed")]
        if not open_items:
            dispatcher.utter_message(response="utter_survey_none")
            return [SlotSet(STAGE, STAGE_IDLE)]
        if len(open_items) == 1:
            return start_questionnaire(
                dispatcher, tracker, client, language, SURVEY, open_items[0]["code"]
            )
        dispatcher.utter_message(
            response="utter_survey_list",
            surveys="\n".join(
                f"*{n}. {localised(item['title'], language)}*"
                for n, item in enumerate(open_items, 1)
            ),
            buttons=[
                {"title": localised(item["title"], language),
                 "payload": _payload("start_survey", survey_code=item["code"])}
                for item in open_items[:MAX_LIST_BUTTONS + 1]
            ],
        )
        return [SlotSet(STAGE, STAGE_IDLE)]


class ActionResumeQuestionnaire(PartnerAction):
    """An answer when no question waits in this chat (a new session, or Rasa restarted
    and lost it): the backend still has the place, so show that question again."""

    def name(self) -> str:
        return "action_resume_questionnaire"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        step = _entity(tracker, "quiz_step") or ""
        waiting: list[tuple[str, dict[str, Any]]] = []
        for kind in (QUIZ, SURVEY):
            for item in client.list_questionnaires(tracker.sender_id, COLLECTION[kind])["items"]:
                if item.get("in_progress"):
                    waiting.append((kind, item))
        tapped = [w for w in waiting if step.startswith(f"{w[1]['in_progress']['attempt_id']}-")]
        if tapped or len(waiting) == 1:
            kind, item = (tapped or waiting)[0]
            return start_questionnaire(dispatcher, tracker, client, language, kind, item["code"])
        if waiting:  # several open and no telling which: let the partner pick
            show_quiz_list(dispatcher, tracker, client, language)
        else:
            dispatcher.utter_message(response="utter_quiz_none_running")
        return [SlotSet(STAGE, STAGE_IDLE)]


class ActionAskQuestionnaireAnswer(Action):
    """The form's question: the one waiting, plainly when new, or with "your quiz is
    still waiting" after the partner asked for something else."""

    def name(self) -> str:
        return "action_ask_questionnaire_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        language = normalise_language(tracker.get_slot("language"))
        state = tracker.get_slot(STATE)
        if not state:
            dispatcher.utter_message(response="utter_quiz_none_running")
            return [SlotSet(ANSWER, DONE)]
        if not state.get("fresh"):
            dispatcher.utter_message(
                response="utter_quiz_waiting" if state["kind"] == QUIZ
                else "utter_survey_waiting",
                title=localised(state["title"], language),
            )
        show_question(dispatcher, state, language)
        return [SlotSet(STATE, {**state, "fresh": False})] if state.get("fresh") else []


class ValidateQuestionnaireForm(FormValidationAction):
    """Reads every message while a question waits: an answer (sent to the backend, which
    scores it), "stop" (the place stays in the backend), or something unclear."""

    def name(self) -> str:
        return "validate_questionnaire_form"

    async def extract_questionnaire_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Rasa validates only after a message (not when the form comes back after another
        # request). When the form starts, the message was the request to start it.
        if tracker.get_slot("requested_slot") != ANSWER:
            return {}
        if self.is_other_request(tracker):
            return {}  # the rules answer it, then the question is shown again
        return {ANSWER: _text(tracker) or "-"}

    @staticmethod
    def is_other_request(tracker: Tracker) -> bool:
        """Another request (a menu button, "cek poin", "kuis"), not meant for the question.

        Typed text that reads as an answer is an answer whatever the NLU made of it, and
        everything typed at a free-text question is its answer.
        """
        intent, text = _intent(tracker), _text(tracker)
        if intent not in INTERRUPTING_INTENTS:
            return False
        if _is_button(text):
            return True
        question = (tracker.get_slot(STATE) or {}).get("question") or {}
        if question.get("kind") == "text" or quiz_answers.is_stop(text):
            return False
        return parse(question, text) is None

    async def validate_questionnaire_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if value is None or tracker.get_slot("requested_slot") != ANSWER:
            return {}  # not a message for the question (the form is just starting)
        language = normalise_language(tracker.get_slot("language"))
        try:
            return await in_worker_thread(self.review, dispatcher, tracker, get_client(), language)
        except PartnerNotFound:
            dispatcher.utter_message(response="utter_not_registered")
        except PartnerInactive as error:
            dispatcher.utter_message(response=INACTIVE_RESPONSES[error.status])
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_backend_error")
            return {ANSWER: None, STATE: {**(tracker.get_slot(STATE) or {}), "fresh": True}}
        except Exception:  # a bug must not leave the partner unanswered
            logger.exception("action.failed", action=self.name(),
                             sender=mask_id(tracker.sender_id))
            dispatcher.utter_message(response="utter_backend_error")
        return {ANSWER: DONE, STATE: None}

    def review(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> dict[str, Any]:
        state = dict(tracker.get_slot(STATE) or {})
        if not state:
            return {ANSWER: DONE, STATE: None}
        question = state["question"]
        text, intent = _text(tracker), _intent(tracker)
        title = localised(state["title"], language)
        if not _is_button(text) and quiz_answers.is_stop(text):
            dispatcher.utter_message(
                response="utter_quiz_paused" if state["kind"] == QUIZ else "utter_survey_paused",
                title=title, number=question["question_no"], total=question["questions"],
            )
            return {ANSWER: DONE, STATE: None}
        again = {ANSWER: None, STATE: {**state, "fresh": True}}
        if _is_button(text):
            answer = _entity(tracker, "quiz_choice") if intent == "answer_quiz" else None
            step = _entity(tracker, "quiz_step")
            if answer and step and step != _step(state):
                dispatcher.utter_message(response="utter_quiz_stale_button")
                return again
        else:
            answer = parse(question, text)
        if not answer:
            unclear(dispatcher, question)
            return again
        return self.send(dispatcher, tracker, client, language, state, answer)

    def send(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str, state: dict[str, Any], answer: str,
    ) -> dict[str, Any]:
        question = state["question"]
        try:
            reply = client.answer_questionnaire(
                tracker.sender_id, COLLECTION[state["kind"]], state["code"],
                state["attempt_id"], question["question_no"], answer,
            )
        except BackendConflict:
            # Another question waits in the backend (answered from elsewhere): show it.
            attempt = client.start_questionnaire(
                tracker.sender_id, COLLECTION[state["kind"]], state["code"]
            )
            return {ANSWER: None, STATE: _state(state["kind"], attempt, attempt["question"])}
        except BackendRefused as error:
            if error.code == "invalid_answer":
                unclear(dispatcher, question)
                return {ANSWER: None, STATE: {**state, "fresh": True}}
            dispatcher.utter_message(response="utter_quiz_not_offered")
            return {ANSWER: DONE, STATE: None}
        logger.info("questionnaire.answered", sender=mask_id(tracker.sender_id),
                    kind=state["kind"], code=state["code"], attempt_id=state["attempt_id"],
                    question_no=question["question_no"], correct=reply.get("correct"),
                    replayed=reply.get("replayed"))
        show_feedback(dispatcher, reply, language)
        if reply.get("result"):
            show_result(dispatcher, state, reply["result"], language)
            return {ANSWER: DONE, STATE: None}
        if not reply.get("next_question"):
            return {ANSWER: DONE, STATE: None}
        return {ANSWER: None, STATE: {**state, "question": reply["next_question"], "fresh": True}}


def parse(question: dict[str, Any], text: str) -> str | None:
    """The answer in the form the backend takes ("B", "4", the text), or None."""
    if question.get("kind") == "choice":
        return quiz_answers.choice_label(text, [c["text"] for c in question["choices"]])
    if question.get("kind") == "scale":
        scale = question.get("scale") or {"min": 1, "max": 5}
        value = quiz_answers.scale_value(text, scale["min"], scale["max"])
        return str(value) if value is not None else None
    answer = text.strip()
    limit = question.get("max_length") or 1000
    return answer if answer and len(answer) <= limit else None


def unclear(dispatcher: CollectingDispatcher, question: dict[str, Any]) -> None:
    if question.get("kind") == "choice":
        labels = [c["label"] for c in question["choices"]]
        dispatcher.utter_message(response="utter_quiz_answer_unclear",
                                 first=", ".join(labels[:-1]), last=labels[-1])
    elif question.get("kind") == "scale":
        dispatcher.utter_message(response="utter_survey_scale_unclear")
    else:
        dispatcher.utter_message(response="utter_survey_text_too_long",
                                 max_length=question.get("max_length") or 1000)


class ActionQuestionnaireDone(Action):
    """After the form: forget the question on screen (the backend keeps the place)."""

    def name(self) -> str:
        return "action_questionnaire_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet(ANSWER, None), SlotSet(STATE, None), SlotSet(STAGE, STAGE_IDLE)]


class ActionQuizRecord(PartnerAction):
    """"training saya": the modules passed, with the date of the first pass."""

    def name(self) -> str:
        return "action_quiz_record"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        items = client.training_record(tracker.sender_id)["items"]
        if not items:
            dispatcher.utter_message(response="utter_quiz_record_empty")
            return []
        lines = "\n".join(
            RECORD_LINE[language].format(
                title=localised(item["title"], language),
                date=format_date(date.fromisoformat(item["passed_on"]), language),
                score=item["score_percent"],
                points=format_points(item["points_awarded"], language),
            )
            for item in items
        )
        dispatcher.utter_message(response="utter_quiz_record", lines=lines, count=len(items))
        return []


RECORD_LINE = {
    "id": "• *{title}* — lulus {date}, skor {score}%, +{points} poin",
    "en": "• *{title}* — passed {date}, score {score}%, +{points} points",
}
