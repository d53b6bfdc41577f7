"""Session start, greeting and language switching against a real backend."""

from __future__ import annotations

from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.language import ActionChangeLanguage
from actions.session import ActionGreet, ActionSessionStart
from tests.actions.conftest import BUDI, RINA, SARAH, STRANGER, backend_get, make_tracker


async def test_session_start_loads_the_stored_language(use_backend):
    events = await ActionSessionStart().run(
        CollectingDispatcher(), make_tracker(SARAH, "greet"), {}
    )
    assert events[0] == SessionStarted()
    assert SlotSet("language", "en") in events
    assert SlotSet("partner_name", "Sarah Wijaya") in events
    assert events[-1] == ActionExecuted("action_listen")


async def test_session_start_for_a_stranger_keeps_indonesian(use_backend):
    events = await ActionSessionStart().run(
        CollectingDispatcher(), make_tracker(STRANGER, "greet"), {}
    )
    assert SlotSet("is_registered", False) in events
    assert not any(e.get("name") == "language" and e.get("value") == "en" for e in events)


async def test_greet_uses_the_first_name(use_backend):
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, make_tracker(BUDI, "greet"), {})
    assert dispatcher.messages[0]["response"] == "utter_greet_partner"
    assert dispatcher.messages[0]["name"] == "Budi"


async def test_greet_for_a_stranger_explains_how_to_join(use_backend):
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, make_tracker(STRANGER, "greet"), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_not_registered"]


async def test_change_language_is_saved_in_the_backend(use_backend):
    tracker = make_tracker(
        RINA, "change_language", entities=[{"entity": "language", "value": "en"}]
    )
    events = await ActionChangeLanguage().run(CollectingDispatcher(), tracker, {})
    assert events == [SlotSet("language", "en")]
    assert backend_get(use_backend, f"/partners/by-wa/{RINA}")["language"] == "en"

    back = make_tracker(
        RINA, "change_language", language="en",
        entities=[{"entity": "language", "value": "id"}],
    )
    assert await ActionChangeLanguage().run(CollectingDispatcher(), back, {}) == [
        SlotSet("language", "id")
    ]
    assert backend_get(use_backend, f"/partners/by-wa/{RINA}")["language"] == "id"


async def test_change_language_without_a_value_switches_to_the_other_one(use_backend):
    tracker = make_tracker(RINA, "change_language", language="id")
    assert await ActionChangeLanguage().run(CollectingDispatcher(), tracker, {}) == [
        SlotSet("language", "en")
    ]
    await ActionChangeLanguage().run(
        CollectingDispatcher(),
        make_tracker(RINA, "change_language", entities=[{"entity": "language", "value": "id"}]),
        {},
    )
