"""Quiz and survey conversations turn by turn against the real backend (demo seed and
the repository's modules): a full pass, a fail then a retry, leaving and coming back
(also with the chat's slots gone, as after a Rasa restart), free-text answers, the daily
attempt limit, a module not offered to the partner's role, a survey, in both languages.

The tests read which choice is right from the backend's database (the order is shuffled
per attempt and the API never says before the answer)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.formatting import format_date, format_points
from actions.points import ActionCheckBalance
from actions.quizzes import (
    ANSWER,
    DONE,
    FORM,
    INTERRUPTING_INTENTS,
    STAGE,
    STATE,
    ActionAskQuestionnaireAnswer,
    ActionQuestionnaireDone,
    ActionQuizRecord,
    ActionResumeQuestionnaire,
    ActionStartQuiz,
    ActionStartSurvey,
    ValidateQuestionnaireForm,
    show_start,
)
from tests.actions.conftest import SARAH, STRANGER, backend_get
from tests.support.processes import SERVICE_TOKEN, Process

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text())
MODULE = "kopi-susu-101"  # 5 questions, 200 points, pass mark 80 %, 3 attempts a day
RETAIL_MODULE = "display-toko-retail"  # retailers only, 4 questions, 2 attempts a day
# Seeded retailers nobody else's tests use (app/initial_data.py numbers them from 110);
# each test takes its own, so the tests do not depend on each other's attempts.
RETAILERS = iter(f"6281300000{n}" for n in range(110, 140))


def responses(messages: list[dict]) -> list[str]:
    return [m.get("response") for m in messages]


def partner(backend: Process, language: str) -> str:
    """A fresh seeded retailer speaking ``language``."""
    wa_id = next(RETAILERS)
    response = requests.put(
        f"{backend.url}/api/v1/partners/by-wa/{wa_id}/language", json={"language": language},
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=5,
    )
    response.raise_for_status()
    return wa_id


def right_label(backend: Process, attempt_id: int, question_no: int) -> str:
    """The label of the right choice as this attempt shows it (from the database)."""
    with sqlite3.connect(backend.log.parent / "mitra.db") as db:
        (questions,) = db.execute(
            "SELECT questions FROM questionnaire_attempt WHERE id = ?", (attempt_id,)
        ).fetchone()
    choices = json.loads(questions)[question_no - 1]["choices"]
    return "ABCD"[next(n for n, choice in enumerate(choices) if choice["correct"])]


def wrong_label(backend: Process, attempt_id: int, question_no: int) -> str:
    right = right_label(backend, attempt_id, question_no)
    return next(label for label in "AB" if label != right)


class Chat:
    """One partner's chat as Rasa runs it: the rules' action for a message, and while a
    question waits the form: its validation action (called as Rasa calls it: after the
    form's own ActionExecuted, with the slots set since the message as candidates), then
    its question (``action_ask_questionnaire_answer``)."""

    def __init__(self, sender: str, language: str = "id") -> None:
        self.sender = sender
        self.slots: dict[str, Any] = {
            "language": language, STATE: None, STAGE: None, ANSWER: None, "requested_slot": None,
        }
        self.active_loop: dict[str, Any] = {}

    def tracker(
        self, intent: str, text: str, entities: dict[str, str] | None,
        latest_action: str = "action_listen", events: list[dict] | None = None,
    ) -> Tracker:
        return Tracker(
            sender_id=self.sender, slots=dict(self.slots),
            latest_message={
                "text": text, "intent": {"name": intent, "confidence": 0.99},
                "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
            },
            events=list(events or []), paused=False, followup_action=None,
            active_loop=dict(self.active_loop), latest_action_name=latest_action,
        )

    def apply(self, events: list[dict]) -> None:
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]

    async def run(self, action, intent: str, text: str, entities=None) -> list[dict]:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, self.tracker(intent, text, entities), DOMAIN)
        self.apply(events)
        self.last_events = events
        return dispatcher.messages

    async def validate(
        self, intent: str, text: str, entities, candidates: list[dict]
    ) -> tuple[list[dict], list[dict]]:
        dispatcher = CollectingDispatcher()
        tracker = self.tracker(intent, text, entities, latest_action=FORM,
                               events=[{"event": "action", "name": FORM}, *candidates])
        events = await ValidateQuestionnaireForm().run(dispatcher, tracker, DOMAIN)
        return events, dispatcher.messages

    async def ask(self, latest_action: str = "action_listen") -> list[dict]:
        dispatcher = CollectingDispatcher()
        tracker = self.tracker("", "", None, latest_action)
        self.apply(await ActionAskQuestionnaireAnswer().run(dispatcher, tracker, DOMAIN))
        return dispatcher.messages

    async def say(
        self, text: str, intent: str, entities: dict[str, str] | None = None, action=None
    ) -> list[dict]:
        """The partner sends ``text`` (NLU: ``intent``); ``action`` is what the rules run
        for it when no question is waiting, or when the form rejects it."""
        if self.active_loop:
            events, messages = await self.validate(intent, text, entities, [])
            if not any(e.get("name") == ANSWER for e in events):  # rejected: not an answer
                assert action is not None, f"no rule for {intent} while a question waits"
                messages = await self.run(action, intent, text, entities)
                return messages + await self.ask(latest_action=action.name())
            self.apply(events)
            if self.slots[ANSWER] == DONE:
                self.active_loop, self.slots["requested_slot"] = {}, None
                self.apply(await ActionQuestionnaireDone().run(
                    CollectingDispatcher(), self.tracker(intent, text, entities), DOMAIN))
                return messages
            return messages + await self.ask()
        assert action is not None
        messages = await self.run(action, intent, text, entities)
        if self.slots[STAGE] == "question":  # the rules start the form
            self.active_loop = {"name": FORM}
            # Rasa validates at activation, with the form's slots the action just set.
            candidates = [e for e in self.last_events if e.get("name") == ANSWER]
            events, validated = await self.validate(intent, text, entities, candidates)
            self.apply(events)
            self.slots["requested_slot"] = ANSWER
            messages += validated + await self.ask()
        return messages

    async def pick(self, code: str) -> list[dict]:
        return await self.say(f'/start_quiz{{"quiz_code": "{code}"}}', "start_quiz",
                              {"quiz_code": code}, ActionStartQuiz())

    async def tap(self, label: str) -> list[dict]:
        """Taps the button of ``label`` on the question on screen."""
        step = f"{self.attempt_id}-{self.question_no}"
        return await self.say(
            f'/answer_quiz{{"quiz_choice": "{label}", "quiz_step": "{step}"}}', "answer_quiz",
            {"quiz_choice": label, "quiz_step": step}, ActionResumeQuestionnaire(),
        )

    @property
    def attempt_id(self) -> int:
        return self.slots[STATE]["attempt_id"]

    @property
    def question_no(self) -> int:
        return self.slots[STATE]["question"]["question_no"]


def balance(backend: Process, wa_id: str) -> int:
    return backend_get(backend, f"/partners/by-wa/{wa_id}/balance")["available_points"]


# ------------------------------------------------------------------------------ quizzes


async def test_a_full_pass_in_indonesian_with_taps_and_free_text(use_backend):
    wa_id = partner(use_backend, "id")
    before = balance(use_backend, wa_id)
    chat = Chat(wa_id)
    listed = await chat.say("kuis", "start_quiz", action=ActionStartQuiz())
    assert responses(listed) == ["utter_quiz_list"]
    assert ". Kenali kopi siap minum kita*\n   🎯 200 poin · 5 soal" in listed[0]["modules"]
    titles = {b["title"]: b["payload"] for b in listed[0]["buttons"]}
    assert titles["Kenali kopi siap minum kita"] == '/start_quiz{"quiz_code": "kopi-susu-101"}'
    assert titles["Training saya"] == "/quiz_record"

    started = await chat.pick(MODULE)
    assert responses(started) == ["utter_quiz_lesson", "utter_quiz_question"]
    assert started[0]["points"] == "200" and started[0]["pass_mark"] == 80
    question = started[1]
    assert (question["number"], question["total"]) == (1, 5)
    labels = [b["title"].split(".")[0] for b in question["buttons"]]
    assert labels == list("ABCD"[: len(labels)])
    for label, button in zip(labels, question["buttons"], strict=True):
        assert f"*{label}.* " in question["choices"]  # also written in the body
        assert json.loads(button["payload"][len("/answer_quiz"):]) == {
            "quiz_choice": label, "quiz_step": f"{chat.attempt_id}-1"}

    ways = ["{}", "{}.", "jawaban {}", "yang {}", None]  # None: the button
    ordinals = {"A": "pertama", "B": "kedua", "C": "ketiga", "D": "keempat"}
    for number, way in enumerate(ways, start=1):
        label = right_label(use_backend, chat.attempt_id, number)
        if way is None:
            messages = await chat.tap(label)
        else:
            word = ordinals[label] if way.startswith("yang") else label.lower()
            messages = await chat.say(way.format(word), "answer_quiz")
        assert responses(messages)[0] == "utter_quiz_correct", (way, messages)
        assert messages[0]["explanation"]
    assert responses(messages) == ["utter_quiz_correct", "utter_quiz_passed_points"]
    assert (messages[1]["correct"], messages[1]["total"], messages[1]["score"]) == (5, 5, 100)
    assert messages[1]["points"] == "200"
    assert chat.active_loop == {} and chat.slots[STATE] is None
    assert balance(use_backend, wa_id) == before + 200

    record = await chat.say("training saya", "quiz_record", action=ActionQuizRecord())
    assert responses(record) == ["utter_quiz_record"]
    [item] = backend_get(use_backend, f"/partners/by-wa/{wa_id}/quizzes/record")["items"]
    passed_on = format_date(date.fromisoformat(item["passed_on"]), "id")
    assert record[0]["lines"] == (
        f"• *Kenali kopi siap minum kita* — lulus {passed_on}, skor 100%, +200 poin"
    )


async def test_a_fail_then_a_retry_in_english_and_no_second_reward(use_backend):
    wa_id = partner(use_backend, "en")
    before = balance(use_backend, wa_id)
    chat = Chat(wa_id, "en")
    await chat.pick(MODULE)
    for number in range(1, 6):
        messages = await chat.tap(wrong_label(use_backend, chat.attempt_id, number))
        assert responses(messages)[0] == "utter_quiz_wrong"
        assert messages[0]["label"] in "ABCD" and messages[0]["choice"]
    assert responses(messages) == ["utter_quiz_wrong", "utter_quiz_failed"]
    failed = messages[1]
    assert (failed["score"], failed["pass_mark"], failed["left"]) == (0, 80, 2)
    retry = failed["buttons"][0]
    assert retry == {"title": "Try again", "payload": '/start_quiz{"quiz_code": "kopi-susu-101"}'}

    again = await chat.pick(MODULE)  # the "Try again" button
    assert responses(again) == ["utter_quiz_lesson", "utter_quiz_question"]
    for number in range(1, 6):
        messages = await chat.tap(right_label(use_backend, chat.attempt_id, number))
    assert responses(messages) == ["utter_quiz_correct", "utter_quiz_passed_points"]
    assert balance(use_backend, wa_id) == before + 200

    practice = await chat.pick(MODULE)  # passed already: practice, no points
    assert responses(practice) == ["utter_quiz_lesson_practice", "utter_quiz_question"]
    for number in range(1, 6):
        messages = await chat.tap(right_label(use_backend, chat.attempt_id, number))
    assert responses(messages) == ["utter_quiz_correct", "utter_quiz_passed_again"]
    assert balance(use_backend, wa_id) == before + 200


async def test_leaving_and_coming_back_after_a_restart_resumes_from_the_backend(use_backend):
    wa_id = partner(use_backend, "id")
    chat = Chat(wa_id)
    await chat.pick(MODULE)
    await chat.tap(right_label(use_backend, chat.attempt_id, 1))
    on_screen, attempt_id = chat.slots[STATE]["question"], chat.attempt_id
    assert on_screen["question_no"] == 2

    paused = await chat.say("nanti aja", "deny")
    assert responses(paused) == ["utter_quiz_paused"]
    assert (paused[0]["number"], paused[0]["total"]) == (2, 5)
    assert chat.active_loop == {} and chat.slots[STATE] is None

    # Rasa restarted and the conversation is gone: a new chat with empty slots.
    fresh = Chat(wa_id)
    listed = await fresh.say("kuis", "start_quiz", action=ActionStartQuiz())
    assert "Lanjutkan dari soal 2 dari 5" in listed[0]["modules"]
    resumed = await fresh.pick(MODULE)
    assert responses(resumed) == ["utter_quiz_resumed", "utter_quiz_question"]
    assert (resumed[0]["number"], resumed[1]["number"]) == (2, 2)
    assert fresh.slots[STATE]["question"] == on_screen  # the same question, same order
    assert fresh.attempt_id == attempt_id

    # Again with nothing in the chat: the partner taps an answer on the old message.
    restarted = Chat(wa_id)
    old_step = f"{attempt_id}-2"
    shown = await restarted.say(
        f'/answer_quiz{{"quiz_choice": "A", "quiz_step": "{old_step}"}}', "answer_quiz",
        {"quiz_choice": "A", "quiz_step": old_step}, ActionResumeQuestionnaire(),
    )
    assert responses(shown) == ["utter_quiz_resumed", "utter_quiz_question"]
    assert restarted.question_no == 2 and restarted.active_loop == {"name": FORM}
    done = backend_get(use_backend, f"/partners/by-wa/{wa_id}/quizzes")
    progress = next(i for i in done["items"] if i["code"] == MODULE)["in_progress"]
    assert progress["question_no"] == 2  # showing it again answered nothing



async def test_another_module_picked_mid_quiz_and_an_answer_with_two_open(use_backend):
    wa_id = partner(use_backend, "id")
    chat = Chat(wa_id)
    await chat.pick(MODULE)
    first_attempt = chat.attempt_id
    # A module tapped in the old list while a question waits: that module starts.
    switched = await chat.pick(RETAIL_MODULE)
    assert responses(switched) == ["utter_quiz_lesson", "utter_quiz_question"]
    assert chat.attempt_id != first_attempt and chat.active_loop == {"name": FORM}

    # Later, with nothing in the chat, a typed answer: two modules are open, so the
    # partner picks which one to continue.
    fresh = Chat(wa_id)
    listed = await fresh.say("jawaban c", "answer_quiz", action=ActionResumeQuestionnaire())
    assert responses(listed) == ["utter_quiz_list"]
    assert "Lanjutkan dari soal 1 dari 5" in listed[0]["modules"]
    assert "Lanjutkan dari soal 1 dari 4" in listed[0]["modules"]
    assert fresh.active_loop == {}

async def test_other_requests_while_a_question_waits(use_backend):
    wa_id = partner(use_backend, "id")
    chat = Chat(wa_id)
    await chat.pick(MODULE)
    messages = await chat.say("cek poin", "check_balance", action=ActionCheckBalance())
    assert responses(messages) == ["utter_balance", "utter_quiz_waiting", "utter_quiz_question"]
    assert messages[2]["number"] == 1

    # An answer is an answer, whatever the NLU thought it was.
    label = right_label(use_backend, chat.attempt_id, 1)
    messages = await chat.say(label.lower(), "check_balance", action=ActionCheckBalance())
    assert responses(messages)[:1] == ["utter_quiz_correct"] and chat.question_no == 2

    unclear = await chat.say("mungkin yang biru", "out_of_scope")
    assert responses(unclear) == ["utter_quiz_answer_unclear", "utter_quiz_question"]
    assert chat.question_no == 2

    old_button = f'/answer_quiz{{"quiz_choice": "A", "quiz_step": "{chat.attempt_id}-1"}}'
    stale = await chat.say(old_button, "answer_quiz",
                           {"quiz_choice": "A", "quiz_step": f"{chat.attempt_id}-1"})
    assert responses(stale) == ["utter_quiz_stale_button", "utter_quiz_question"]
    assert chat.question_no == 2


async def test_the_daily_attempt_limit(use_backend):
    wa_id = partner(use_backend, "id")
    chat = Chat(wa_id)
    for _ in range(2):
        await chat.pick(RETAIL_MODULE)
        for number in range(1, 5):
            messages = await chat.tap(wrong_label(use_backend, chat.attempt_id, number))
    assert responses(messages) == ["utter_quiz_wrong", "utter_quiz_failed_last"]
    refused = await chat.pick(RETAIL_MODULE)
    assert responses(refused) == ["utter_quiz_attempt_limit"]
    assert chat.active_loop == {}
    listed = await chat.say("kuis", "start_quiz", action=ActionStartQuiz())
    assert "Kesempatan hari ini habis" in listed[0]["modules"]
    assert RETAIL_MODULE not in json.dumps(listed[0]["buttons"])


async def test_a_module_for_retailers_is_not_offered_to_a_wholesaler(use_backend):
    chat = Chat(SARAH, "en")
    listed = await chat.say("quiz please", "start_quiz", action=ActionStartQuiz())
    assert "Know our ready-to-drink coffee" in listed[0]["modules"]
    assert "Shelves and shop display" not in listed[0]["modules"]
    refused = await chat.pick(RETAIL_MODULE)
    assert responses(refused) == ["utter_quiz_not_offered"]
    assert chat.active_loop == {} and chat.slots[STAGE] == "idle"


async def test_strangers_are_told_how_to_join(use_backend):
    messages = await Chat(STRANGER).say("kuis", "start_quiz", action=ActionStartQuiz())
    assert responses(messages) == ["utter_not_registered"]


# ------------------------------------------------------------------------------ surveys


@pytest.mark.parametrize("language", ["id", "en"])
async def test_a_survey_with_a_scale_choices_and_text_thanks_once(use_backend, language):
    wa_id = partner(use_backend, language)
    before = balance(use_backend, wa_id)
    chat = Chat(wa_id, language)
    started = await chat.say("survei", "start_survey", action=ActionStartSurvey())
    assert responses(started) == ["utter_survey_intro", "utter_survey_scale"]
    assert [b["title"][0] for b in started[1]["buttons"]] == list("12345")
    low = {"id": "Sangat tidak puas", "en": "Very unhappy"}[language]
    assert started[1]["low"] == low and started[1]["buttons"][0]["title"] == f"1 – {low}"

    unclear = await chat.say("lumayan", "affirm")
    assert responses(unclear) == ["utter_survey_scale_unclear", "utter_survey_scale"]
    assert responses(await chat.say("4", "answer_quiz")) == ["utter_survey_choice"]
    assert responses(await chat.say("yang kedua", "answer_quiz")) == ["utter_survey_choice"]
    assert responses(await chat.tap("A")) == ["utter_survey_text"]
    attempt_id = chat.attempt_id
    done = await chat.say("Poin klaim lebih cepat masuk", "claim_status")
    assert responses(done) == ["utter_survey_thanks_points"]
    assert done[0]["points"] == format_points(50, language)
    assert balance(use_backend, wa_id) == before + 50

    again = await chat.say("survey", "start_survey", action=ActionStartSurvey())
    assert responses(again) == ["utter_survey_none"]
    with sqlite3.connect(use_backend.log.parent / "mitra.db") as db:
        stored = db.execute(
            "SELECT scale_value, choice_label, text_value FROM questionnaire_answer "
            "WHERE attempt_id = ? ORDER BY question_no", (attempt_id,)
        ).fetchall()
    assert stored == [(4, None, None), (None, "B", None), (None, "A", None),
                      (None, None, "Poin klaim lebih cepat masuk")]


def test_every_interrupting_intent_has_a_rule() -> None:
    rules = [rule for path in sorted((ROOT / "bot/data/rules").glob("*.yml"))
             for rule in yaml.safe_load(path.read_text())["rules"]]
    while_waiting = {
        step["intent"]
        for rule in rules
        if {"active_loop": FORM} in (rule.get("condition") or [])
        for step in rule["steps"]
        if "intent" in step
    }
    assert while_waiting == set(INTERRUPTING_INTENTS)


@pytest.mark.parametrize(
    ("media", "sent"),
    [
        ({"type": "image", "url": "https://cdn.example.com/ksga.jpg"},
         {"image": "https://cdn.example.com/ksga.jpg"}),
        ({"type": "document", "url": "https://cdn.example.com/ksga.pdf", "filename": "ksga.pdf"},
         {"attachment": {"type": "document", "url": "https://cdn.example.com/ksga.pdf",
                         "filename": "ksga.pdf"}}),
    ],
)
def test_a_lesson_picture_or_document_is_sent_with_the_lesson(media, sent) -> None:
    attempt = {
        "title": {"id": "Judul", "en": "Title"}, "intro": {"id": "Pelajaran", "en": "Lesson"},
        "media": media, "points": 200, "pass_mark_percent": 80, "already_rewarded": False,
        "question": {"question_no": 1, "questions": 5},
    }
    dispatcher = CollectingDispatcher()
    show_start(dispatcher, "quiz", attempt, "en")
    [lesson] = dispatcher.messages
    assert lesson["response"] == "utter_quiz_lesson" and lesson["lesson"] == "Lesson"
    assert {key: lesson[key] for key in sent} == sent
