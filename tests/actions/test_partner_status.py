"""Suspended partners and partners who left: the backend answers 403 with a reason, the
partner reads a polite explanation in their language, nothing else happens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import backend_client
from actions.backend_client import BackendClient, BackendUnavailable, PartnerInactive
from actions.language import ActionChangeLanguage
from actions.session import ActionSessionStart
from tests.actions.conftest import BUDI, PARTNER_ACTIONS, make_tracker
from tests.actions.fake_backend import Answer, FakeBackend, Seen, fake_backend
from tests.support.processes import SERVICE_TOKEN

# backend detail → (PartnerInactive.status, response the partner reads)
INACTIVE = [
    ("partner suspended", "suspended", "utter_partner_suspended"),
    ("partner has left", "left", "utter_partner_left"),
]


@contextmanager
def forbidding(monkeypatch: pytest.MonkeyPatch, detail: object) -> Iterator[FakeBackend]:
    """A backend answering every call with ``403 {"detail": detail}``."""

    def respond(seen: Seen) -> Answer:
        return 403, {"detail": detail}

    with fake_backend(respond) as backend:
        monkeypatch.setenv("BACKEND_URL", backend.url)
        monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)
        backend_client.reset_client()
        try:
            yield backend
        finally:
            backend_client.reset_client()


@pytest.mark.parametrize(("detail", "status", "_"), INACTIVE)
def test_the_client_names_the_status(monkeypatch, detail, status, _):
    with forbidding(monkeypatch, detail) as backend:
        client = BackendClient(backend.url, SERVICE_TOKEN)
        for call in (lambda: client.get_balance(BUDI), lambda: client.set_language(BUDI, "en")):
            with pytest.raises(PartnerInactive) as raised:
                call()
            assert raised.value.status == status


@pytest.mark.parametrize("detail", ["Not authenticated", "forbidden", None, ["partner suspended"]])
def test_any_other_403_is_a_backend_problem(monkeypatch, detail):
    with forbidding(monkeypatch, detail) as backend:
        with pytest.raises(BackendUnavailable):
            BackendClient(backend.url, SERVICE_TOKEN).get_balance(BUDI)


@pytest.mark.parametrize(("detail", "_", "response"), INACTIVE)
@pytest.mark.parametrize("action_class", PARTNER_ACTIONS)
@pytest.mark.parametrize("language", ["id", "en"])
async def test_inactive_partners_are_told_why(
    monkeypatch, detail, _, response, action_class, language
):
    with forbidding(monkeypatch, detail):
        dispatcher = CollectingDispatcher()
        events = await action_class().run(
            dispatcher, make_tracker(BUDI, "check_balance", language), {}
        )
    assert [m["response"] for m in dispatcher.messages] == [response]
    assert events == []


@pytest.mark.parametrize(("detail", "_", "__"), INACTIVE)
async def test_session_start_keeps_what_it_knew(monkeypatch, detail, _, __):
    with forbidding(monkeypatch, detail):
        events = await ActionSessionStart().run(
            CollectingDispatcher(), make_tracker(BUDI, "greet", language="en"), {}
        )
    assert events[0] == SessionStarted()
    assert SlotSet("language", "en") in events
    assert events[-1] == ActionExecuted("action_listen")


@pytest.mark.parametrize(("detail", "_", "__"), INACTIVE)
async def test_language_switch_applies_to_the_conversation(monkeypatch, detail, _, __):
    tracker = make_tracker(
        BUDI, "change_language", entities=[{"entity": "language", "value": "en"}]
    )
    with forbidding(monkeypatch, detail):
        events = await ActionChangeLanguage().run(CollectingDispatcher(), tracker, {})
    assert events == [SlotSet("language", "en")]
