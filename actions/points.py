"""Points balance, tier progress, history and expiring points."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient
from actions.base import PartnerAction
from actions.formatting import (
    format_date,
    format_datetime,
    format_points,
    format_signed_points,
    month_start_wib,
    reason_label,
)

HISTORY_LINES = 10
EXPIRING_WINDOW_DAYS = 90


class ActionCheckBalance(PartnerAction):
    def name(self) -> str:
        return "action_check_balance"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        balance = client.get_balance(tracker.sender_id)
        dispatcher.utter_message(
            response="utter_balance",
            points=format_points(balance["available_points"], language),
            lifetime=format_points(balance["lifetime_earned"], language),
            as_of=format_datetime(balance["as_of"], language),
        )
        if balance.get("expiring_soon_points") and balance.get("expiring_soon_date"):
            dispatcher.utter_message(
                response="utter_balance_expiring_soon",
                points=format_points(balance["expiring_soon_points"], language),
                date=format_date(balance["expiring_soon_date"], language),
            )
        return []


class ActionTierStatus(PartnerAction):
    def name(self) -> str:
        return "action_tier_status"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        progress = client.get_tier_progress(tracker.sender_id)
        current, upcoming = progress["current"], progress.get("next")
        common = {
            "tier": current["name"],
            "earned": format_points(progress["points_in_window"], language),
            "window_days": progress["window_days"],
        }
        if upcoming:
            dispatcher.utter_message(
                response="utter_tier_progress",
                next_tier=upcoming["name"],
                next_min=format_points(upcoming["min_points"], language),
                points_to_next=format_points(progress["points_to_next"], language),
                **common,
            )
        else:
            dispatcher.utter_message(
                response="utter_tier_top",
                current_min=format_points(current["min_points"], language),
                **common,
            )
        return []


class ActionPointsHistory(PartnerAction):
    """This month's ledger entries, or the latest ones when the month is still empty."""

    def name(self) -> str:
        return "action_points_history"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        this_month = client.get_history(
            tracker.sender_id, limit=HISTORY_LINES, since=month_start_wib().isoformat()
        )
        if this_month["items"]:
            dispatcher.utter_message(
                response="utter_history_this_month",
                count=this_month["total"],
                lines=_history_lines(this_month["items"], language),
            )
            return []
        recent = client.get_history(tracker.sender_id, limit=5)
        if recent["items"]:
            dispatcher.utter_message(
                response="utter_history_recent", lines=_history_lines(recent["items"], language)
            )
        else:
            dispatcher.utter_message(response="utter_history_empty")
        return []


class ActionExpiringPoints(PartnerAction):
    def name(self) -> str:
        return "action_expiring_points"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        expiring = client.get_expiring(tracker.sender_id, within_days=EXPIRING_WINDOW_DAYS)
        if not expiring["lots"]:
            dispatcher.utter_message(
                response="utter_expiring_none", within_days=expiring["within_days"]
            )
            return []
        lines = "\n".join(
            f"• {format_date(lot['expires_at'], language)}: "
            f"{format_points(lot['points'], language)}"
            for lot in expiring["lots"]
        )
        dispatcher.utter_message(
            response="utter_expiring",
            total=format_points(expiring["total_points"], language),
            within_days=expiring["within_days"],
            lines=lines,
        )
        return []


def _history_lines(entries: list[dict], language: str) -> str:
    return "\n".join(
        f"• {format_date(entry['created_at'], language)} · "
        f"{format_signed_points(entry['delta'], language)} · {reason_label(entry, language)}"
        for entry in entries
    )
