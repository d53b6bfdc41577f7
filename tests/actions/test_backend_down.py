"""When the backend is down, slow or failing, partners get an apology, nothing crashes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import structlog
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import backend_client
from actions.language import ActionChangeLanguage
from actions.session import ActionSessionStart
from tests.actions.conftest import BUDI, PARTNER_ACTIONS, make_tracker
from tests.support.processes import SERVICE_TOKEN, free_port


class _Handler(BaseHTTPRequestHandler):
    mode = "500"

    def _answer(self) -> None:
        if self.mode == "slow":
            time.sleep(1.5)
        status = {"500": 500, "wrong_route": 404}.get(self.mode, 200)
        body = {
            "garbage": b"<html>oops",
            "wrong_route": b'{"detail": "Not Found"}',  # a mistyped BACKEND_URL path
        }.get(self.mode, b'{"detail": "boom"}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = _answer

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # the client hanging up on the slow answer is the point of that test


@pytest.fixture()
def broken_backend(request, monkeypatch) -> Iterator[None]:
    mode = request.param
    if mode == "down":
        monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{free_port()}")
        server = None
    else:
        handler = type("Handler", (_Handler,), {"mode": mode})
        server = _QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("BACKEND_READ_TIMEOUT", "0.5")
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)
    backend_client.reset_client()
    yield
    backend_client.reset_client()
    if server:
        server.shutdown()


@pytest.mark.parametrize(
    "broken_backend", ["down", "500", "slow", "garbage", "wrong_route"], indirect=True
)
@pytest.mark.parametrize("action_class", PARTNER_ACTIONS)
@pytest.mark.parametrize("language", ["id", "en"])
async def test_partner_actions_apologise(broken_backend, action_class, language):
    dispatcher = CollectingDispatcher()
    with structlog.testing.capture_logs() as logs:
        events = await action_class().run(
            dispatcher, make_tracker(BUDI, "check_balance", language), {}
        )
    assert [m["response"] for m in dispatcher.messages] == ["utter_backend_error"]
    assert events == []
    assert any(log["event"].startswith("backend.") and log["log_level"] == "error"
               for log in logs)
    assert all(BUDI not in str(log) for log in logs)  # masked


@pytest.mark.parametrize("broken_backend", ["down", "slow"], indirect=True)
async def test_session_start_keeps_the_previous_language(broken_backend):
    tracker = make_tracker(BUDI, "greet", language="en")
    events = await ActionSessionStart().run(CollectingDispatcher(), tracker, {})
    assert SlotSet("language", "en") in events


@pytest.mark.parametrize("broken_backend", ["down"], indirect=True)
async def test_language_switch_still_applies_to_the_conversation(broken_backend):
    tracker = make_tracker(
        BUDI, "change_language", entities=[{"entity": "language", "value": "en"}]
    )
    assert await ActionChangeLanguage().run(CollectingDispatcher(), tracker, {}) == [
        SlotSet("language", "en")
    ]
