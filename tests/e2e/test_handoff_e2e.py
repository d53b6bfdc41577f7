"""Hand-off through every real part: the partner asks for a person on the (sandbox)
phone, Rasa pauses, what the partner writes meanwhile reaches the agent's transcript and
no bot answer, the agent claims (a second one cannot) and replies into the same thread
(the sandbox records it), hands back, and the bot speaks first and answers again. And:
nobody takes the chat in time → the partner is told and goes back to the bot (English).

The shared ``stack``'s backend gives up waiting for an agent after
``HANDOFF_TIMEOUT_SECONDS`` (tests/e2e/conftest.py). Partners are seeded distributors
no other end-to-end test talks to, so a paused chat never blocks another test."""

from __future__ import annotations

from typing import Any

import requests

from tests.e2e.conftest import (
    inbound,
    message_text,
    next_message,
    replies_to,
    wait_for_text,
    wait_until,
)
from tests.support.processes import (
    DEMO_ADMIN_EMAIL,
    DEMO_ADMIN_PASSWORD,
    DEMO_AGENT_EMAIL,
    DEMO_AGENT_PASSWORD,
    Stack,
)

AGUS, DEWI = "6281300000002", "6281300000003"  # seeded distributors (id by default)


class Console:
    """One agent's console session (cookie + CSRF token), as the browser holds it."""

    def __init__(self, stack: Stack, email: str, password: str) -> None:
        self.base = f"{stack.backend.url}/console/api"
        self.session = requests.Session()
        response = self.session.post(f"{self.base}/login", timeout=10,
                                     json={"email": email, "password": password})
        response.raise_for_status()
        self.session.headers["X-CSRF-Token"] = response.json()["csrf_token"]

    def get(self, path: str) -> Any:
        response = self.session.get(self.base + path, timeout=10)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=20)

    def handoff_of(self, wa_id: str) -> dict[str, Any]:
        [item] = [i for i in self.get("/handoffs")["items"] if i["wa_id"] == wa_id]
        return item

    def transcript(self, handoff_id: int) -> list[dict[str, Any]]:
        return self.get(f"/handoffs/{handoff_id}/transcript")["messages"]


def buttons(payload: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Reply buttons by title."""
    return {b["reply"]["title"]: b["reply"]
            for b in payload["interactive"]["action"]["buttons"]}


def test_agent_takes_over_replies_in_the_thread_and_hands_back(stack: Stack) -> None:
    asked = next_message(stack.sandbox, AGUS, text="mau bicara sama CS dong")
    assert "tim CS" in message_text(asked), message_text(asked)

    agent = Console(stack, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD)
    item = agent.handoff_of(AGUS)
    assert item["status"] == "waiting" and item["partner_name"] == "Agus Setiawan"
    handoff_id = item["id"]

    # Paused: the partner's message is in the transcript (Rasa ran the turn) and the bot
    # said nothing (its answer would have been sent before the turn was stored).
    silent_from = len(replies_to(stack.sandbox, AGUS))
    inbound(stack.sandbox, **{"from": AGUS, "text": "poin faktur bulan lalu belum masuk"})
    wait_until(lambda: any("belum masuk" in (m["text"] or "")
                           for m in agent.transcript(handoff_id)), 30, "the paused message")
    assert len(replies_to(stack.sandbox, AGUS)) == silent_from

    assert agent.post(f"/handoffs/{handoff_id}/claim").status_code == 200
    other = Console(stack, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD)
    refused = other.post(f"/handoffs/{handoff_id}/claim")
    assert refused.status_code == 409, refused.text

    reply = "Halo Pak Agus, saya cek fakturnya dulu ya 🙏"
    assert agent.post(f"/handoffs/{handoff_id}/messages", {"text": reply}).status_code == 201
    wait_for_text(stack.sandbox, AGUS, reply, silent_from)
    transcript = agent.transcript(handoff_id)
    assert [m["from"] for m in transcript if m["text"] == reply] == ["agent"]

    before_back = len(replies_to(stack.sandbox, AGUS))
    assert agent.post(f"/handoffs/{handoff_id}/hand-back").status_code == 200
    wait_for_text(stack.sandbox, AGUS, "Mitra (bot) kembali", before_back)
    assert AGUS not in [i["wa_id"] for i in agent.get("/handoffs")["items"]]

    balance = next_message(stack.sandbox, AGUS, text="cek poin")
    assert "poin" in message_text(balance).lower()


def test_nobody_free_in_time_the_partner_goes_back_to_the_bot(stack: Stack) -> None:
    assert "English" in message_text(next_message(stack.sandbox, DEWI, text="english please"))
    waiting = next_message(stack.sandbox, DEWI, text="can i talk to a real person")
    assert "connecting you" in message_text(waiting), message_text(waiting)

    notice = wait_for_text(stack.sandbox, DEWI, "all our agents are still busy",
                           len(replies_to(stack.sandbox, DEWI)) - 1, timeout=90)
    choice = buttons(notice)
    assert set(choice) == {"Keep waiting", "Back to the bot"}
    before = len(replies_to(stack.sandbox, DEWI))
    inbound(stack.sandbox, **{"from": DEWI, "button_reply": choice["Back to the bot"]})
    wait_for_text(stack.sandbox, DEWI, "Mitra the bot here again", before)
    agent = Console(stack, DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD)
    assert DEWI not in [i["wa_id"] for i in agent.get("/handoffs")["items"]]
    # With the bot again: answered, in English.
    balance = next_message(stack.sandbox, DEWI, text="my points")
    assert "points" in message_text(balance).lower()
