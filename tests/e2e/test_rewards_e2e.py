"""Redeeming a voucher through the whole stack: the sandbox phone asks for the catalogue,
taps a reward in the WhatsApp list, taps the confirm button, and gets the voucher code in
the chat; a second tap on the same confirm button (a double tap) redeems nothing more."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import (
    Stack,
    inbound,
    message_text,
    next_message,
    replies_to,
    wait_for_messages,
)
from tests.support.demo import ANDI, SARAH


@pytest.fixture()
def stack(spending_stack: Stack) -> Stack:
    """These tests spend Andi's and Sarah's points: the spending stack."""
    return spending_stack


def list_rows(payload: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(section title, row) of an interactive list, in order."""
    assert payload["type"] == "interactive" and payload["interactive"]["type"] == "list", payload
    return [
        (section.get("title", ""), row)
        for section in payload["interactive"]["action"]["sections"]
        for row in section["rows"]
    ]


def reply_buttons(payload: dict[str, Any]) -> list[dict[str, str]]:
    assert payload["type"] == "interactive" and payload["interactive"]["type"] == "button", payload
    return [button["reply"] for button in payload["interactive"]["action"]["buttons"]]


def wait_for_text(stack: Stack, wa_id: str, needle: str, after: int) -> str:
    """The first message after the ``after``-th that contains ``needle`` (the bot may
    send its answer in more than one message)."""
    for count in range(after + 1, after + 4):
        messages = wait_for_messages(stack.sandbox, wa_id, count, timeout=60)
        texts = [message_text(m) for m in messages[after:]]
        found = [t for t in texts if needle in t]
        if found:
            return found[0]
    raise AssertionError(f"{needle!r} not in {texts}")


def test_catalogue_tap_confirm_shows_the_voucher_code_and_a_double_tap_redeems_once(
    stack: Stack,
):
    balance = stack.backend_get(f"/partners/by-wa/{ANDI}/balance")["available_points"]

    catalogue = next_message(stack.sandbox, ANDI, text="tukar poin dong")
    rows = list_rows(catalogue)
    sections = {section for section, _ in rows}
    assert "Voucher belanja" in sections, sections  # grouped by kind
    voucher_row = next(row for _, row in rows if '"VCR-50K"' in row["id"])
    assert "1.000 poin" in voucher_row.get("description", ""), voucher_row

    confirm = next_message(stack.sandbox, ANDI, list_reply=voucher_row)
    assert "Voucher belanja Rp50.000" in message_text(confirm), message_text(confirm)
    redeem = next(b for b in reply_buttons(confirm) if b["title"] == "Tukar")

    before_done = len(replies_to(stack.sandbox, ANDI))
    inbound(stack.sandbox, **{"from": ANDI, "button_reply": redeem})
    done = wait_for_text(stack, ANDI, "RDM-", before_done)
    redemptions = stack.backend_get(f"/partners/by-wa/{ANDI}/redemptions")["items"]
    assert len(redemptions) >= 1
    newest = redemptions[0]
    assert newest["reward_code"] == "VCR-50K" and newest["status"] == "fulfilled", newest
    assert newest["redemption_no"] in done, done
    assert newest["voucher_code"] and newest["voucher_code"] in done, done
    after = stack.backend_get(f"/partners/by-wa/{ANDI}/balance")["available_points"]
    assert after == balance - 1000

    # The same button again: the backend replays the first redemption.
    before_again = len(replies_to(stack.sandbox, ANDI))
    inbound(stack.sandbox, **{"from": ANDI, "button_reply": redeem})
    again = wait_for_text(stack, ANDI, "RDM-", before_again)
    assert newest["redemption_no"] in again and newest["voucher_code"] in again, again
    assert stack.backend_get(f"/partners/by-wa/{ANDI}/redemptions")["items"] == redemptions
    assert stack.backend_get(f"/partners/by-wa/{ANDI}/balance")["available_points"] == after


def test_english_partner_without_enough_points_is_told_how_many_more(stack: Stack):
    catalogue = next_message(stack.sandbox, SARAH, text="show me the rewards catalogue")
    rows = [row for _, row in list_rows(catalogue)]
    voucher_row = next(row for row in rows if '"VCR-50K"' in row["id"])
    assert "points short" in voucher_row.get("description", ""), voucher_row

    answer = next_message(stack.sandbox, SARAH, list_reply=voucher_row)
    balance = stack.backend_get(f"/partners/by-wa/{SARAH}/balance")["available_points"]
    text = message_text(answer)
    assert f"need *{1000 - balance} more points*" in text, text
    redeemed = stack.backend_get(f"/partners/by-wa/{SARAH}/redemptions")["items"]
    assert all(r["reward_code"] != "VCR-50K" for r in redeemed), redeemed
