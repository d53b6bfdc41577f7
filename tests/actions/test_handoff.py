"""Hand-off actions against a real backend (its own, with the demo seed): asking for a
person queues the partner once and pauses the chat; outside support hours the bot says
when agents are back and offers to leave a message; keep waiting / back to the bot after
the no-agent notice; two misunderstandings in a row offer a person; the hand-back speaks
first (and lets a waiting flow show itself again); the backend down or a stranger."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import backend_client
from actions.handoff import (
    ActionHandback,
    ActionHandoffBackToBot,
    ActionHandoffKeepWaiting,
    ActionHandoffLeaveMessage,
    ActionHandoffTimeout,
    ActionNotUnderstood,
    ActionRequestHandoff,
)
from actions.session import ActionSessionStart
from tests.actions.conftest import BUDI, SARAH, STRANGER
from tests.support.demo import ANDI, JOKO, RINA
from tests.support.processes import (
    DEMO_AGENT_EMAIL,
    DEMO_AGENT_PASSWORD,
    SERVICE_TOKEN,
    Process,
    free_port,
    start_backend,
)

_ids = itertools.count(1)


def _backend(tmp_path_factory: pytest.TempPathFactory, name: str, open_now: str) -> Process:
    log_dir = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUPPORT_HOURS_ALWAYS_OPEN", open_now)
        return start_backend(log_dir, f"sqlite:///{log_dir / 'mitra.db'}")


@pytest.fixture(scope="module")
def open_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """Agents on duty (the hand-offs these tests open stay out of the other tests)."""
    process = _backend(tmp_path_factory, "handoff-open", "true")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def closed_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    process = _backend(tmp_path_factory, "handoff-closed", "false")
    yield process
    process.stop()


def _use(backend: Process, monkeypatch: pytest.MonkeyPatch) -> Process:
    monkeypatch.setenv("BACKEND_URL", backend.url)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)
    backend_client.reset_client()
    return backend


@pytest.fixture()
def in_hours(open_backend: Process, monkeypatch: pytest.MonkeyPatch) -> Iterator[Process]:
    yield _use(open_backend, monkeypatch)
    backend_client.reset_client()


@pytest.fixture()
def after_hours(closed_backend: Process, monkeypatch: pytest.MonkeyPatch) -> Iterator[Process]:
    yield _use(closed_backend, monkeypatch)
    backend_client.reset_client()


def tracker(
    sender: str, intent: str, text: str = "", language: str = "id",
    entities: dict[str, str] | None = None, slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None, active_loop: str | None = None,
    message_id: str | None = None,
) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots={"language": language, "handoff_state": None, "handoff_offered": False,
               **(slots or {})},
        latest_message={
            "text": text, "intent": {"name": intent, "confidence": 0.99},
            "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
            "message_id": message_id or f"wamid.HANDOFF{next(_ids)}",
        },
        events=list(events or []), paused=False, followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


async def run(action: Any, current: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, current, {})
    return dispatcher.messages, events


def slots(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def paused(events: list[dict]) -> bool:
    """Paused, and then listening (so what follows is read as after any other turn)."""
    kinds = [(e.get("event"), e.get("name")) for e in events]
    if ("pause", None) not in kinds:
        return False
    assert kinds[kinds.index(("pause", None)) + 1:] == [("action", "action_listen")], kinds
    return True


def user(text: str, intent: str) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def console_queue(backend: Process) -> list[dict[str, Any]]:
    """The agents' queue as the console shows it (logged in as the demo agent)."""
    session = requests.Session()
    login = session.post(f"{backend.url}/console/api/login", timeout=10,
                         json={"email": DEMO_AGENT_EMAIL, "password": DEMO_AGENT_PASSWORD})
    login.raise_for_status()
    response = session.get(f"{backend.url}/console/api/handoffs", timeout=10)
    response.raise_for_status()
    return response.json()["items"]


async def test_asking_for_a_person_queues_once_and_pauses(in_hours: Process) -> None:
    asked = tracker(BUDI, "request_agent", "mau bicara sama CS, poin saya kok belum masuk",
                    events=[user("mau bicara sama CS, poin saya kok belum masuk",
                                 "request_agent")])
    messages, events = await run(ActionRequestHandoff(), asked)
    assert [m["response"] for m in messages] == ["utter_handoff_waiting"]
    assert messages[0]["wait"] >= 1
    assert paused(events) and slots(events)["handoff_state"] == "waiting"
    [item] = [i for i in console_queue(in_hours) if i["wa_id"] == BUDI]
    assert item["reason"] == "requested" and item["status"] == "waiting"
    assert "poin saya kok belum masuk" in item["last_message"]

    # The same message redelivered, or asked again: still one hand-off in the queue.
    await run(ActionRequestHandoff(), asked)
    again = tracker(BUDI, "request_agent", "halo cs??")
    messages, events = await run(ActionRequestHandoff(), again)
    assert [m["response"] for m in messages] == ["utter_handoff_waiting"] and paused(events)
    assert [i["wa_id"] for i in console_queue(in_hours)].count(BUDI) == 1


async def test_after_the_no_agent_notice_keep_waiting_or_go_back(in_hours: Process) -> None:
    await run(ActionRequestHandoff(), tracker(SARAH, "request_agent", "agent please", "en"))
    notice, events = await run(
        ActionHandoffTimeout(), tracker(SARAH, "EXTERNAL_handoff_timeout", language="en",
                                        slots={"handoff_state": "waiting"}))
    assert [m["response"] for m in notice] == ["utter_handoff_timeout"]
    assert slots(events) == {"handoff_state": "timed_out"}

    timed_out = {"handoff_state": "timed_out"}
    messages, events = await run(ActionHandoffKeepWaiting(), tracker(
        SARAH, "handoff_keep_waiting", "/handoff_keep_waiting", "en", slots=timed_out))
    assert [m["response"] for m in messages] == ["utter_handoff_keep_waiting"]
    assert paused(events) and slots(events)["handoff_state"] == "waiting"

    messages, events = await run(ActionHandoffBackToBot(), tracker(
        SARAH, "handoff_back_to_bot", "back to the bot", "en", slots=timed_out))
    assert [m["response"] for m in messages] == ["utter_handoff_back_to_bot"]
    assert not paused(events) and slots(events)["handoff_state"] is None
    assert SARAH not in [i["wa_id"] for i in console_queue(in_hours)]

    # Waiting again after the queue let go of the partner: told so, not paused.
    messages, events = await run(ActionHandoffKeepWaiting(), tracker(
        SARAH, "handoff_keep_waiting", "i'll wait", "en", slots=timed_out))
    assert [m["response"] for m in messages] == ["utter_handoff_none"] and not paused(events)


async def test_back_to_the_bot_inside_a_flow_says_the_flow_continues(in_hours: Process) -> None:
    await run(ActionRequestHandoff(), tracker(RINA, "request_agent", "cs dong"))
    messages, events = await run(ActionHandoffBackToBot(), tracker(
        RINA, "handoff_back_to_bot", "/handoff_back_to_bot",
        slots={"handoff_state": "timed_out"}, active_loop="claim_form"))
    assert [m["response"] for m in messages] == ["utter_handoff_resume_flow"]
    assert RINA not in [i["wa_id"] for i in console_queue(in_hours)]


async def test_two_misunderstandings_in_a_row_offer_a_person(in_hours: Process) -> None:
    first = tracker(ANDI, "nlu_fallback", "xqzv wplk", events=[user("xqzv wplk", "nlu_fallback")])
    messages, events = await run(ActionNotUnderstood(), first)
    assert [m["response"] for m in messages] == ["utter_fallback"]
    assert slots(events) == {"handoff_offered": False}

    history = [user("menu", "menu"), user("pesan teh 10 karton", "out_of_scope")]
    messages, _ = await run(ActionNotUnderstood(), tracker(
        ANDI, "out_of_scope", "pesan teh 10 karton", events=history))
    assert [m["response"] for m in messages] == ["utter_out_of_scope"]

    history = [user("xqzv wplk", "nlu_fallback"), user("asdfgh", "nlu_fallback")]
    messages, events = await run(ActionNotUnderstood(), tracker(
        ANDI, "nlu_fallback", "asdfgh", events=history))
    assert [m["response"] for m in messages] == ["utter_offer_agent"]
    assert slots(events) == {"handoff_offered": True}

    # "ya" accepts: queued as a misunderstanding, with what the partner wrote.
    accepted = tracker(ANDI, "affirm", "ya", slots={"handoff_offered": True},
                       events=[*history, user("ya", "affirm")])
    messages, events = await run(ActionRequestHandoff(), accepted)
    assert [m["response"] for m in messages] == ["utter_handoff_waiting"] and paused(events)
    [item] = [i for i in console_queue(in_hours) if i["wa_id"] == ANDI]
    assert item["reason"] == "misunderstood"
    assert "asdfgh" in item["last_message"]


async def test_after_hours_the_bot_says_when_and_takes_a_message(after_hours: Process) -> None:
    messages, events = await run(ActionRequestHandoff(), tracker(SARAH, "request_agent",
                                                                  "talk to a human", "en"))
    assert [m["response"] for m in messages] == ["utter_handoff_closed"]
    english = messages[0]["next_open"]
    assert "WIB" in english and not paused(events)
    assert slots(events)["handoff_state"] == "closed"
    assert SARAH not in [i["wa_id"] for i in console_queue(after_hours)]
    # The same moment in the partner's language ("Senin, 08.00 WIB" / "Monday, 08:00 WIB").
    messages, _ = await run(ActionRequestHandoff(), tracker(BUDI, "request_agent", "cs dong"))
    indonesian = messages[0]["next_open"]
    assert "WIB" in indonesian and indonesian != english

    messages, events = await run(ActionHandoffLeaveMessage(), tracker(
        SARAH, "handoff_leave_message", "/handoff_leave_message", "en",
        slots={"handoff_state": "closed"}))
    assert [m["response"] for m in messages] == ["utter_handoff_leave_message"]
    assert "WIB" in messages[0]["next_open"]
    assert paused(events) and slots(events)["handoff_state"] == "waiting"
    [item] = [i for i in console_queue(after_hours) if i["wa_id"] == SARAH]
    assert item["reason"] == "after_hours"


async def test_the_hand_back_speaks_first() -> None:
    messages, events = await run(ActionHandback(), tracker(
        JOKO, "EXTERNAL_handback", slots={"handoff_state": "waiting"}))
    assert [m["response"] for m in messages] == ["utter_handback"]
    assert slots(events)["handoff_state"] is None
    # A waiting flow: what the partner wrote to the agent must not be taken as its answer
    # (Rasa fills slots from paused messages too), so the form asks its question again.
    messages, events = await run(ActionHandback(), tracker(
        JOKO, "EXTERNAL_handback", active_loop="questionnaire_form",
        slots={"questionnaire_answer": "tolong cek poin saya", "claim_review": "halo cs"}))
    assert [m["response"] for m in messages] == ["utter_handback_resume_flow"]
    assert slots(events)["questionnaire_answer"] is None
    assert slots(events)["claim_review"] is None


async def test_a_new_session_keeps_a_waiting_partner_paused(
    in_hours: Process,
) -> None:
    _, events = await run(ActionSessionStart(), tracker(
        BUDI, "greet", slots={"handoff_state": "waiting"}))
    assert paused(events)
    _, events = await run(ActionSessionStart(), tracker(BUDI, "greet"))
    assert not paused(events)


async def test_a_stranger_and_a_backend_down_are_answered_without_pausing(
    in_hours: Process, monkeypatch: pytest.MonkeyPatch,
) -> None:
    messages, events = await run(ActionRequestHandoff(), tracker(STRANGER, "request_agent",
                                                                  "cs dong"))
    assert [m["response"] for m in messages] == ["utter_not_registered"]
    assert not paused(events)

    monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{free_port()}")
    backend_client.reset_client()
    messages, events = await run(ActionRequestHandoff(), tracker(BUDI, "request_agent",
                                                                  "cs dong"))
    assert [m["response"] for m in messages] == ["utter_backend_error"]
    assert not paused(events)
