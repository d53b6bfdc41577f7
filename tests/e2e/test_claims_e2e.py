"""A sales claim from an invoice photo, through the whole stack: the sandbox phone sends
the sample invoice of Budi's seeded ERP sale, the bot reads it (OCR in the backend), the
partner confirms with the button, the backend judges it against the ERP lines and
credits the ledger; the same invoice again is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from actions.formatting import format_points
from tests.e2e.conftest import Stack, inbound, message_text, next_message, wait_for_messages
from tests.support.demo import BUDI, SARAH

SAMPLE_INVOICE = Path(__file__).resolve().parents[2] / "sandbox" / "static" / "sample-invoice.jpg"
SAMPLE_INVOICE_NO = "INV/DN/2611/00123"


@pytest.fixture()
def stack(spending_stack: Stack) -> Stack:
    """These tests write to Budi's and Sarah's chats and claims: the spending stack."""
    return spending_stack


def upload_photo(stack: Stack, path: Path) -> str:
    """The phone's user picks a photo: the sandbox stores it as WhatsApp media."""
    with path.open("rb") as photo:
        response = requests.post(
            f"{stack.sandbox.url}/sandbox/media",
            files={"file": (path.name, photo, "image/jpeg")}, timeout=10,
        )
    response.raise_for_status()
    return response.json()["id"]


def buttons_of(payload: dict[str, Any]) -> list[dict[str, str]]:
    assert payload["type"] == "interactive", payload
    return [button["reply"] for button in payload["interactive"]["action"]["buttons"]]


def test_invoice_photo_is_read_confirmed_and_approved_then_refused_as_duplicate(stack: Stack):
    before = stack.backend_get(f"/partners/by-wa/{BUDI}/balance")["available_points"]
    media_id = upload_photo(stack, SAMPLE_INVOICE)

    inbound(stack.sandbox, **{"from": BUDI, "image": {"media_id": media_id}})
    draft = wait_for_messages(stack.sandbox, BUDI, 1, timeout=60)[-1]
    text = message_text(draft)
    assert SAMPLE_INVOICE_NO in text, text
    assert "Kopi Susu Gula Aren" in text and "10" in text, text
    assert "Teh Melati" in text, text
    confirm = next(b for b in buttons_of(draft) if b["title"] == "Konfirmasi")

    inbound(stack.sandbox, **{"from": BUDI, "button_reply": confirm})
    answer = message_text(wait_for_messages(stack.sandbox, BUDI, 2, timeout=60)[-1])
    claims = stack.backend_get(f"/partners/by-wa/{BUDI}/claims")["items"]
    claim = next(c for c in claims if c["invoice_no"] == SAMPLE_INVOICE_NO)
    assert claim["status"] == "approved", claim
    assert f"*{claim['claim_no']}*" in answer, answer
    assert f"+{format_points(claim['points'], 'id')} poin" in answer, answer
    # Each rule the backend applied is shown, in Indonesian.
    for rule in claim["rules"]:
        assert rule["description"]["id"] in answer, (rule, answer)
    after = stack.backend_get(f"/partners/by-wa/{BUDI}/balance")["available_points"]
    assert after == before + claim["points"]

    # The same invoice again (another photo of it: the same bytes here) is refused.
    count = len(wait_for_messages(stack.sandbox, BUDI, 2))
    again = upload_photo(stack, SAMPLE_INVOICE)
    inbound(stack.sandbox, **{"from": BUDI, "image": {"media_id": again}})
    # The photo is read and shown again; the backend refuses it on confirmation.
    draft = wait_for_messages(stack.sandbox, BUDI, count + 1, timeout=60)[-1]
    assert SAMPLE_INVOICE_NO in message_text(draft)
    confirm = next(b for b in buttons_of(draft) if b["title"] == "Konfirmasi")
    inbound(stack.sandbox, **{"from": BUDI, "button_reply": confirm})
    refusal = wait_for_messages(stack.sandbox, BUDI, count + 2, timeout=60)[-1]
    assert "sudah pernah diklaim" in message_text(refusal), message_text(refusal)
    assert stack.backend_get(f"/partners/by-wa/{BUDI}/balance")["available_points"] == after


def test_english_partner_asks_for_claims_and_is_told_how_to_start(stack: Stack):
    text = message_text(next_message(stack.sandbox, SARAH, text="I want to claim points"))
    assert "photo of the invoice" in text, text
