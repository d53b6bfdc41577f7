"""Session start and greeting: load who the sender is and which language they use."""

from __future__ import annotations

from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    EventType,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import (
    BackendClient,
    BackendUnavailable,
    PartnerInactive,
    PartnerNotFound,
    get_client,
)
from actions.base import PartnerAction
from actions.formatting import normalise_language
from actions.logging_utils import mask_id
from actions.offload import in_worker_thread

logger = structlog.get_logger(__name__)

CARRIED_SLOTS = ("language", "partner_name", "is_registered", "handoff_state")


def partner_slots(partner: dict[str, Any]) -> list[EventType]:
    return [
        SlotSet("language", normalise_language(partner.get("language"))),
        SlotSet("partner_name", partner.get("name")),
        SlotSet("is_registered", True),
    ]


class ActionSessionStart(Action):
    """Start a session with the partner's stored language (Indonesian by default)."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        # Keep what the last session knew, in case the backend cannot be reached now.
        events += [
            SlotSet(name, tracker.get_slot(name))
            for name in CARRIED_SLOTS
            if tracker.get_slot(name) is not None
        ]
        try:
            partner = await in_worker_thread(get_client().get_partner, tracker.sender_id)
            events += partner_slots(partner)
        except PartnerNotFound:
            events.append(SlotSet("is_registered", False))
        except PartnerInactive as error:
            # Their next request is answered with why they cannot use the program now.
            logger.info("session.partner_inactive", sender=mask_id(tracker.sender_id),
                        status=error.status)
        except BackendUnavailable:
            logger.warning("session.partner_unavailable", sender=mask_id(tracker.sender_id))
        if tracker.get_slot("handoff_state") == "waiting":
            # A new session must not end a wait for an agent (the queue still holds the
            # partner): the bot stays silent; the agent, or the no-agent notice, resumes.
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events


class ActionGreet(PartnerAction):
    """Greet partners by name; strangers learn what Mitra is and how to join."""

    def name(self) -> str:
        return "action_greet"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        partner = client.get_partner(tracker.sender_id)
        dispatcher.utter_message(response="utter_greet_partner", name=partner["name"].split()[0])
        return partner_slots(partner)
