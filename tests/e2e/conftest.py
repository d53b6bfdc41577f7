"""End-to-end fixtures: the real backend, action server, Rasa with the WhatsApp connector
and the WhatsApp sandbox, each started as its own process on a free port."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.support.processes import Process, Stack, running, start_stack

__all__ = [
    "Stack", "inbound", "message_text", "next_message", "replies_to", "sent_to",
    "wait_for_messages", "wait_for_text", "wait_until",
]


def sent_to(sandbox: Process, wa_id: str) -> list[dict[str, Any]]:
    """What the bot sent to ``wa_id`` so far, as Cloud API payloads, in order."""
    response = requests.get(f"{sandbox.url}/sandbox/messages", params={"to": wa_id}, timeout=5)
    response.raise_for_status()
    return [record["payload"] for record in response.json()["messages"]]


def replies_to(sandbox: Process, wa_id: str) -> list[dict[str, Any]]:
    """What the bot sent to ``wa_id`` so far, without the read receipts."""
    return [m for m in sent_to(sandbox, wa_id) if m.get("type") != "read"]


def wait_for_messages(
    sandbox: Process, wa_id: str, count: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        messages = replies_to(sandbox, wa_id)
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        time.sleep(0.2)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy (returned); fail after
    ``timeout`` seconds naming ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def wait_for_text(
    sandbox: Process, wa_id: str, needle: str, after: int = 0, timeout: float = 60.0
) -> dict[str, Any]:
    """The first message to ``wa_id`` after the ``after``-th that contains ``needle`` (the
    bot may answer in more than one message); fails after ``timeout`` seconds."""
    def found() -> dict[str, Any] | None:
        return next(
            (m for m in replies_to(sandbox, wa_id)[after:] if needle in message_text(m)), None
        )
    return wait_until(found, timeout, f"{needle!r} to {wa_id}")


def inbound(sandbox: Process, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{sandbox.url}/sandbox/inbound", json=body, timeout=10)
    response.raise_for_status()
    result = response.json()
    assert result["webhook_status"] == 200, result
    return result


def next_message(
    sandbox: Process, wa_id: str, timeout: float = 60.0, **body: Any
) -> dict[str, Any]:
    """Send one message as ``wa_id`` and return the bot's next message to them."""
    seen = len(replies_to(sandbox, wa_id))
    inbound(sandbox, **{"from": wa_id, **body})
    messages = wait_for_messages(sandbox, wa_id, seen + 1, timeout=timeout)
    assert len(messages) > seen, f"no answer to {body}"
    return messages[seen]


def message_text(payload: dict[str, Any]) -> str:
    """The visible text of a Cloud API message payload (text or interactive body)."""
    if payload.get("type") == "text":
        return payload["text"]["body"]
    if payload.get("type") == "interactive":
        return payload["interactive"]["body"]["text"]
    return ""


# The shared stack's backend gives up waiting for an agent after this long (the no-agent
# notice of tests/e2e/test_handoff_e2e.py); claims in the hand-off tests come sooner.
HANDOFF_TIMEOUT_SECONDS = 20


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(  # as make run
        tmp_path_factory.mktemp("e2e"), gateway=True,
        backend_env={"HANDOFF_TIMEOUT_SECONDS": str(HANDOFF_TIMEOUT_SECONDS)},
    )
    with running(*stack.processes):
        yield stack


@pytest.fixture(scope="session")
def spending_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own for the tests that earn or spend points (claims, redemptions):
    the other end-to-end tests read the demo partners' balances from their first message
    on, so these must not change them."""
    stack = start_stack(tmp_path_factory.mktemp("spending-e2e"), gateway=True)
    with running(*stack.processes):
        yield stack
