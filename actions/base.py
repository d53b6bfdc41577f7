"""The shape every partner-facing action shares: look up the sender, answer politely
when they are not a partner, may not use the program now, or the backend cannot be
reached. The backend work runs in a worker thread, never on the event loop."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import (
    BackendClient,
    BackendUnavailable,
    PartnerInactive,
    PartnerNotFound,
    get_client,
)
from actions.formatting import normalise_language
from actions.logging_utils import mask_id
from actions.offload import in_worker_thread

logger = structlog.get_logger(__name__)

# PartnerInactive.status → what the partner reads (both languages, in the domain).
INACTIVE_RESPONSES = {"suspended": "utter_partner_suspended", "left": "utter_partner_left"}


class PartnerAction(Action, metaclass=ABCMeta):
    """Base for actions that answer from the sender's partner record."""

    @abstractmethod
    def run_for_partner(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        client: BackendClient,
        language: str,
    ) -> list[EventType]:
        """Answer for the sender (runs in a worker thread); may raise the client's errors."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        language = normalise_language(tracker.get_slot("language"))
        sender = mask_id(tracker.sender_id)
        try:
            return await in_worker_thread(
                self.run_for_partner, dispatcher, tracker, get_client(), language
            )
        except PartnerNotFound:
            logger.info("partner.unknown", action=self.name(), sender=sender)
            dispatcher.utter_message(response="utter_not_registered")
            return [SlotSet("is_registered", False)]
        except PartnerInactive as error:
            logger.info("partner.inactive", action=self.name(), sender=sender,
                        status=error.status)
            dispatcher.utter_message(response=INACTIVE_RESPONSES[error.status])
            return []
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_backend_error")
            return []
        except Exception:  # a bug must not leave the partner without an answer
            logger.exception("action.failed", action=self.name(), sender=sender)
            dispatcher.utter_message(response="utter_backend_error")
            return []
