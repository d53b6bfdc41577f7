"""A partner on WhatsApp (the sandbox) talks to the whole running Mitra stack."""

from __future__ import annotations

import uuid

import requests

from actions.formatting import format_points
from tests.e2e.conftest import Stack, inbound, message_text, wait_for_messages
from tests.support.demo import ANDI, BUDI, JOKO, RINA, SARAH, STRANGER
from tests.support.processes import RASA_AUTH_TOKEN


def test_cek_poin_answers_the_ledger_balance_in_indonesian(stack: Stack):
    balance = stack.backend_get(f"/partners/by-wa/{BUDI}/balance")
    inbound(stack.sandbox, **{"from": BUDI, "name": "Budi", "text": "cek poin dong"})

    messages = wait_for_messages(stack.sandbox, BUDI, 1)
    text = message_text(messages[0])
    assert f"*{format_points(balance['available_points'], 'id')} poin*" in text
    assert "Poin Anda saat ini" in text


def test_english_partner_gets_english(stack: Stack):
    balance = stack.backend_get(f"/partners/by-wa/{SARAH}/balance")
    inbound(stack.sandbox, **{"from": SARAH, "name": "Sarah", "text": "my points?"})

    text = message_text(wait_for_messages(stack.sandbox, SARAH, 1)[0])
    assert f"*{format_points(balance['available_points'], 'en')} points*" in text
    assert "poin" not in text.lower().replace("points", "")


def test_menu_is_a_list_and_a_tapped_row_works(stack: Stack):
    inbound(stack.sandbox, **{"from": ANDI, "name": "Andi", "text": "menu"})
    menu = wait_for_messages(stack.sandbox, ANDI, 1)[0]
    assert menu["type"] == "interactive"
    assert menu["interactive"]["type"] == "list"
    rows = [row for section in menu["interactive"]["action"]["sections"]
            for row in section["rows"]]
    tier_row = next(row for row in rows if row["id"] == "/tier_status")

    inbound(stack.sandbox, **{"from": ANDI, "list_reply": {"id": tier_row["id"],
                                                          "title": tier_row["title"]}})
    reply = wait_for_messages(stack.sandbox, ANDI, 2)[1]
    assert "Platinum" in message_text(reply)


def test_reply_button_tap_works(stack: Stack):
    inbound(stack.sandbox, **{"from": RINA, "name": "Rina", "text": "halo"})
    greeting = wait_for_messages(stack.sandbox, RINA, 1)[0]
    assert greeting["interactive"]["type"] == "button"
    buttons = greeting["interactive"]["action"]["buttons"]
    balance_button = next(b for b in buttons if b["reply"]["id"] == "/check_balance")

    inbound(stack.sandbox, **{"from": RINA, "button_reply": balance_button["reply"]})
    reply = wait_for_messages(stack.sandbox, RINA, 2)[1]
    assert "*0 poin*" in message_text(reply)


def test_a_photo_without_an_invoice_offers_a_display_claim(stack: Stack):
    # The sandbox generates a photo of colour blocks: the action server downloads it
    # from the sandbox's Graph API, the backend's OCR finds no invoice on it.
    inbound(stack.sandbox, **{"from": JOKO, "image": {"caption": "faktur INV-001"}})
    reply = wait_for_messages(stack.sandbox, JOKO, 1)[0]
    assert "foto display/toko" in message_text(reply)
    buttons = reply["interactive"]["action"]["buttons"]
    assert any(b["reply"]["id"] == "/claim_display" for b in buttons)


def test_voice_note_gets_a_polite_answer_and_stranger_learns_how_to_join(stack: Stack):
    stranger = STRANGER
    inbound(stack.sandbox, **{"from": stranger, "type": "audio"})
    reply = wait_for_messages(stack.sandbox, stranger, 1)[0]
    assert "hanya bisa membaca teks dan foto" in message_text(reply)

    inbound(stack.sandbox, **{"from": stranger, "text": "cek poin"})
    reply = wait_for_messages(stack.sandbox, stranger, 2)[1]
    assert "belum terdaftar" in message_text(reply)


def test_typed_slash_command_is_treated_as_text(stack: Stack):
    sender = f"test-user-{uuid.uuid4().hex[:8]}"  # a user id, not a phone number
    inbound(stack.sandbox, **{"from": sender, "text": "/restart"})
    assert len(wait_for_messages(stack.sandbox, sender, 1)) == 1
    tracker = requests.get(
        f"{stack.rasa.url}/conversations/{sender}/tracker",
        params={"token": RASA_AUTH_TOKEN}, timeout=10,
    ).json()
    user_events = [e for e in tracker["events"] if e["event"] == "user"]
    assert user_events[-1]["parse_data"]["intent"]["name"] != "restart"
    assert not any(e["event"] == "restart" for e in tracker["events"])


def test_rest_channel_is_not_exposed(stack: Stack):
    """Rasa's REST channel has no authentication: anyone could read any partner's points."""
    response = requests.post(
        f"{stack.rasa.url}/webhooks/rest/webhook",
        json={"sender": BUDI, "message": "cek poin"}, timeout=10,
    )
    assert response.status_code == 404
