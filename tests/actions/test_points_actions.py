"""Points actions against a real backend: exact figures, both languages, strangers."""

from __future__ import annotations

import re

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.formatting import format_date, format_points
from actions.points import (
    ActionCheckBalance,
    ActionExpiringPoints,
    ActionPointsHistory,
    ActionTierStatus,
)
from tests.actions.conftest import (
    ANDI,
    BUDI,
    RINA,
    SARAH,
    STRANGER,
    backend_get,
    make_tracker,
)


async def run(action, sender: str, language: str = "id", intent: str = "check_balance"):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(sender, intent, language), {})
    return dispatcher.messages, events


async def test_balance_shows_the_backend_figure_in_indonesian(use_backend):
    balance = backend_get(use_backend, f"/partners/by-wa/{BUDI}/balance")
    messages, events = await run(ActionCheckBalance(), BUDI)

    assert events == []
    assert messages[0]["response"] == "utter_balance"
    assert messages[0]["points"] == format_points(balance["available_points"], "id")
    assert messages[0]["lifetime"] == format_points(balance["lifetime_earned"], "id")
    # Budi has points expiring within 30 days (demo fixture): the heads-up follows.
    assert balance["expiring_soon_points"] > 0
    assert messages[1]["response"] == "utter_balance_expiring_soon"
    assert messages[1]["points"] == format_points(balance["expiring_soon_points"], "id")
    assert messages[1]["date"] == format_date(balance["expiring_soon_date"], "id")


async def test_balance_uses_english_number_format(use_backend):
    balance = backend_get(use_backend, f"/partners/by-wa/{SARAH}/balance")
    messages, _ = await run(ActionCheckBalance(), SARAH, language="en")
    assert messages[0]["points"] == format_points(balance["available_points"], "en")


async def test_new_partner_has_zero_points_and_empty_history(use_backend):
    messages, _ = await run(ActionCheckBalance(), RINA)
    assert messages[0]["points"] == "0"

    messages, _ = await run(ActionPointsHistory(), RINA, intent="points_history")
    assert [m["response"] for m in messages] == ["utter_history_empty"]

    messages, _ = await run(ActionExpiringPoints(), RINA, intent="expiring_points")
    assert [m["response"] for m in messages] == ["utter_expiring_none"]


async def test_tier_progress_names_the_next_tier(use_backend):
    progress = backend_get(use_backend, f"/partners/by-wa/{BUDI}/tier")
    messages, _ = await run(ActionTierStatus(), BUDI, intent="tier_status")

    assert progress["current"]["name"] == "Gold"
    assert messages[0]["response"] == "utter_tier_progress"
    assert messages[0]["tier"] == "Gold"
    assert messages[0]["next_tier"] == progress["next"]["name"] == "Platinum"
    assert messages[0]["points_to_next"] == format_points(progress["points_to_next"], "id")


async def test_top_tier_gets_the_keep_it_message(use_backend):
    messages, _ = await run(ActionTierStatus(), ANDI, intent="tier_status", language="en")
    assert messages[0]["response"] == "utter_tier_top"
    assert messages[0]["tier"] == "Platinum"


async def test_history_lists_ledger_entries_with_signed_points(use_backend):
    history = backend_get(use_backend, f"/partners/by-wa/{BUDI}/history", limit=5)
    messages, _ = await run(ActionPointsHistory(), BUDI, intent="points_history", language="en")

    assert messages[0]["response"] in {"utter_history_this_month", "utter_history_recent"}
    lines = messages[0]["lines"].splitlines()
    assert 1 <= len(lines) <= 10
    line_pattern = re.compile(r"^• \d{1,2} [A-Z][a-z]{2} \d{4} · [+-][\d,]+ · .+")
    assert all(line_pattern.match(line) for line in lines)
    newest = history["items"][0]
    assert lines[0].startswith(f"• {format_date(newest['created_at'], 'en')}")


async def test_expiring_points_lists_lots_with_dates(use_backend):
    expiring = backend_get(use_backend, f"/partners/by-wa/{BUDI}/expiring", within_days=90)
    messages, _ = await run(ActionExpiringPoints(), BUDI, intent="expiring_points")

    assert expiring["total_points"] > 0
    assert messages[0]["response"] == "utter_expiring"
    assert messages[0]["total"] == format_points(expiring["total_points"], "id")
    first_lot = expiring["lots"][0]
    assert messages[0]["lines"].splitlines()[0] == (
        f"• {format_date(first_lot['expires_at'], 'id')}: "
        f"{format_points(first_lot['points'], 'id')}"
    )


async def test_stranger_gets_how_to_join_not_someone_elses_data(use_backend):
    for action in (ActionCheckBalance(), ActionTierStatus(), ActionPointsHistory(),
                   ActionExpiringPoints()):
        messages, events = await run(action, STRANGER)
        assert [m["response"] for m in messages] == ["utter_not_registered"]
        assert events == [SlotSet("is_registered", False)]
