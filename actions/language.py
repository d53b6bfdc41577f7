"""Switching the reply language and remembering it in the backend."""

from __future__ import annotations

from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import (
    BackendUnavailable,
    PartnerInactive,
    PartnerNotFound,
    get_client,
)
from actions.formatting import SUPPORTED_LANGUAGES, normalise_language
from actions.logging_utils import mask_id
from actions.offload import in_worker_thread

logger = structlog.get_logger(__name__)


def requested_language(tracker: Tracker) -> str:
    """The language asked for (entity ``language``, normalised by synonyms to id/en);
    without one, "ganti bahasa" / "change language" means the other language."""
    for value in tracker.get_latest_entity_values("language"):
        if value in SUPPORTED_LANGUAGES:
            return value
    current = normalise_language(tracker.get_slot("language"))
    return "en" if current == "id" else "id"


class ActionChangeLanguage(Action):
    def name(self) -> str:
        return "action_change_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        language = requested_language(tracker)
        try:
            await in_worker_thread(get_client().set_language, tracker.sender_id, language)
        except (PartnerNotFound, PartnerInactive):
            pass  # strangers and inactive partners still get replies in the language asked for
        except BackendUnavailable:
            # The conversation switches now; the stored preference stays as it was, so
            # the next session (after an hour of silence) starts in the stored language.
            logger.warning("language.not_saved", sender=mask_id(tracker.sender_id),
                           language=language)
        return [SlotSet("language", language)]
