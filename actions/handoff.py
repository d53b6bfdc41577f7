"""Hand-off to a person (docs/handoff.md): the partner asks for an agent, or accepts the
offer after two messages in a row the bot did not understand. The backend owns the
hand-off and the support hours; these actions ask it, tell the partner, and pause the
conversation (``ConversationPaused``: Rasa keeps logging what the partner writes for the
agent and stays silent). The console (backend) resumes it and triggers
``EXTERNAL_handback`` or, when nobody took the chat in time, ``EXTERNAL_handoff_timeout``.

``handoff_state`` says where the partner is: ``waiting`` (paused, in the agents' queue),
``timed_out`` (still queued, but told nobody took the chat in time and asked whether to
keep waiting), ``closed`` (outside support hours, offered to leave a message) or unset.
``handoff_offered`` is true right after the bot offered an agent, so "ya" accepts it.
"""

from __future__ import annotations

from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendNotFound
from actions.base import PartnerAction
from actions.conversation import FORM_ANSWER_SLOTS, entity, idempotency_key
from actions.formatting import normalise_language

logger = structlog.get_logger(__name__)

STATE, OFFERED = "handoff_state", "handoff_offered"
WAITING, CLOSED, TIMED_OUT = "waiting", "closed", "timed_out"
# What the bot did not understand: two of these in a row and it offers a person.
NOT_UNDERSTOOD = ("nlu_fallback", "out_of_scope")
REASONS = ("requested", "misunderstood", "after_hours")
LAST_MESSAGE_CHARS = 500


def _label(value: dict[str, str] | None, language: str) -> str:
    """The backend's bilingual label ("Senin, 08.00 WIB"), in the partner's language."""
    value = value or {}
    return value.get(language) or value.get("id") or ""


def _previous_user_intent(tracker: Tracker) -> str | None:
    """The intent of the partner's message before the latest one."""
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if not seen_latest:
            seen_latest = True
            continue
        return ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return None


def _recent_texts(tracker: Tracker, count: int = 2) -> str | None:
    """The partner's latest typed messages (not taps), oldest first: what the agent reads
    first in the queue."""
    texts: list[str] = []
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        said = str(event.get("text") or "")
        if said and not said.startswith("/") and not said.startswith("EXTERNAL"):
            texts.append(said)
        if len(texts) == count:
            break
    joined = " / ".join(reversed(texts))
    return joined[:LAST_MESSAGE_CHARS] or None


def _paused(dispatcher: CollectingDispatcher, handoff: dict[str, Any], response: str,
            language: str) -> list[EventType]:
    dispatcher.utter_message(
        response=response, wait=handoff.get("expected_wait_minutes") or 5,
        next_open=_label(handoff.get("next_open_label"), language),
    )
    # Paused, the bot listens: the partner's messages and the backend's EXTERNAL_* intents
    # then follow an action_listen, as the rules (and every other turn) expect.
    return [SlotSet(STATE, WAITING), SlotSet(OFFERED, False), ConversationPaused(),
            ActionExecuted("action_listen")]


def _back_with_the_bot(tracker: Tracker) -> tuple[bool, list[EventType]]:
    """Whether a flow waits (its form shows it again next), and the events that end the
    hand-off: the state cleared and, in a flow, its answer slot emptied."""
    in_flow = bool((tracker.active_loop or {}).get("name"))
    events: list[EventType] = [SlotSet(STATE, None), SlotSet(OFFERED, False)]
    if in_flow:
        events += [SlotSet(name, None) for name in FORM_ANSWER_SLOTS]
    return in_flow, events


class ActionNotUnderstood(Action):
    """The menu (or the out-of-scope answer); the second time in a row, also the offer to
    talk to a person."""

    def name(self) -> str:
        return "action_not_understood"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        said = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        base = "utter_out_of_scope" if said == "out_of_scope" else "utter_fallback"
        if _previous_user_intent(tracker) in NOT_UNDERSTOOD:
            dispatcher.utter_message(response="utter_offer_agent")
            return [SlotSet(OFFERED, True)]
        dispatcher.utter_message(response=base)
        return [SlotSet(OFFERED, False)]


class ActionRequestHandoff(PartnerAction):
    """Queue the partner for an agent and pause; outside support hours, say when agents
    are back and offer to leave a message."""

    def name(self) -> str:
        return "action_request_handoff"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        availability = client.support_availability()
        if not availability.get("open"):
            dispatcher.utter_message(
                response="utter_handoff_closed",
                next_open=_label(availability.get("next_open_label"), language),
            )
            return [SlotSet(STATE, CLOSED), SlotSet(OFFERED, False)]
        reason = entity(tracker, "handoff_reason")
        if reason not in REASONS:  # the offer's button says it; a typed "ya" accepts it too
            reason = "misunderstood" if tracker.get_slot(OFFERED) else "requested"
        handoff = client.request_handoff(
            tracker.sender_id, reason, idempotency_key(tracker), _recent_texts(tracker)
        )
        logger.info("handoff.requested", handoff_id=handoff.get("handoff_id"), reason=reason)
        return _paused(dispatcher, handoff, "utter_handoff_waiting", language)


class ActionHandoffLeaveMessage(PartnerAction):
    """Outside support hours: the partner leaves a message; an agent answers it when back."""

    def name(self) -> str:
        return "action_handoff_leave_message"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        handoff = client.request_handoff(
            tracker.sender_id, "after_hours", idempotency_key(tracker), _recent_texts(tracker)
        )
        if handoff.get("open"):  # agents came on duty meanwhile: an ordinary wait
            return _paused(dispatcher, handoff, "utter_handoff_waiting", language)
        return _paused(dispatcher, handoff, "utter_handoff_leave_message", language)


class ActionHandoffKeepWaiting(PartnerAction):
    """After the no-agent notice: stay in the queue (paused again)."""

    def name(self) -> str:
        return "action_handoff_keep_waiting"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        try:
            handoff = client.keep_waiting(tracker.sender_id)
        except BackendNotFound:  # an agent closed it meanwhile, or it was cancelled
            dispatcher.utter_message(response="utter_handoff_none")
            return [SlotSet(STATE, None)]
        return _paused(dispatcher, handoff, "utter_handoff_keep_waiting", language)


class ActionHandoffBackToBot(PartnerAction):
    """After the no-agent notice (or instead of leaving a message): back to the bot."""

    def name(self) -> str:
        return "action_handoff_back_to_bot"

    def run_for_partner(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
        language: str,
    ) -> list[EventType]:
        try:  # whatever the slot says: the queue is the backend's
            client.cancel_handoff(tracker.sender_id)
        except BackendNotFound:
            pass  # nothing open any more: the partner is with the bot either way
        in_flow, events = _back_with_the_bot(tracker)
        dispatcher.utter_message(
            response="utter_handoff_resume_flow" if in_flow else "utter_handoff_back_to_bot"
        )
        return events


class ActionHandoffTimeout(Action):
    """Nobody took the chat in time (the backend resumed the conversation and triggered
    ``EXTERNAL_handoff_timeout``): keep waiting, or back to the bot?"""

    def name(self) -> str:
        return "action_handoff_timeout"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_timeout")
        return [SlotSet(STATE, TIMED_OUT)]


class ActionHandback(Action):
    """The agent handed the chat back: the bot speaks first. A flow that was waiting (a
    claim draft, a quiz question, a redemption) is shown again by its form (the rules)."""

    def name(self) -> str:
        return "action_handback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        in_flow, events = _back_with_the_bot(tracker)
        language = normalise_language(tracker.get_slot("language"))
        logger.info("handoff.handed_back", in_flow=in_flow, language=language)
        dispatcher.utter_message(
            response="utter_handback_resume_flow" if in_flow else "utter_handback"
        )
        return events
