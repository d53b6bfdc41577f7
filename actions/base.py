"""The shape every partner-facing action shares: look up the sender, answer politely
when they are not a partner or the backend cannot be reached."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import (
    BackendClient,
    BackendUnavailable,
    PartnerNotFound,
    get_client,
)
from actions.formatting import normalise_language
from actions.logging_utils import log_event, mask_id

logger = logging.getLogger(__name__)


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
        """Answer for the sender; may raise the backend client's errors."""

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        language = normalise_language(tracker.get_slot("language"))
        try:
            return self.run_for_partner(dispatcher, tracker, get_client(), language)
        except PartnerNotFound:
            log_event(logger, logging.INFO, "partner.unknown", action=self.name(),
                      sender=mask_id(tracker.sender_id))
            dispatcher.utter_message(response="utter_not_registered")
            return [SlotSet("is_registered", False)]
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_backend_error")
            return []
        except Exception:  # a bug must not leave the partner without an answer
            logger.exception("action.failed action=%s sender=%s", self.name(),
                             mask_id(tracker.sender_id))
            dispatcher.utter_message(response="utter_backend_error")
            return []
