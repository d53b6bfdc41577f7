"""What the partner's latest message says, as the actions read it: its WhatsApp id (the
idempotency key of what it confirms), intent, text and entities.

Shared by the claim and the reward flows, so both key their writes the same way.
"""

from __future__ import annotations

from rasa_sdk import Tracker

# The hand-off's intents (actions/handoff.py). A waiting flow (claim draft, quiz question,
# redemption) stays waiting through them: each form's INTERRUPTING_INTENTS include them,
# and the rules show the flow again when the partner is back with the bot.
HANDOFF_INTENTS = (
    "request_agent", "handoff_leave_message", "handoff_keep_waiting", "handoff_back_to_bot",
    "EXTERNAL_handback", "EXTERNAL_handoff_timeout",
)
# A notice the program sends first (actions/notices.py).
NOTICE_INTENT = "EXTERNAL_notify"
# What leaves any waiting flow waiting: the hand-off and the program's notices.
FLOW_INTERRUPTING_INTENTS = (*HANDOFF_INTENTS, NOTICE_INTENT)

# The slot each form fills from the partner's answer. Rasa still extracts slots from what
# a paused partner writes (for the agent), so the hand-back empties them: the form then
# asks its question again instead of taking a message meant for the agent as the answer.
FORM_ANSWER_SLOTS = ("claim_review", "redeem_answer", "questionnaire_answer")


def message_id(tracker: Tracker) -> str:
    """The WhatsApp id of the latest message (Rasa's ``message_id``)."""
    latest = tracker.latest_message or {}
    value = latest.get("message_id")
    if not value:  # never without one from Rasa; a stable fallback all the same
        value = f"{tracker.sender_id}:{len(tracker.events)}"
    return str(value)


def idempotency_key(tracker: Tracker) -> str:
    """``wa:<id of the latest message>`` (docs/contracts.md): the message that confirmed a
    claim, or the one that opened a redemption's confirmation."""
    return f"wa:{message_id(tracker)}"


def entity(tracker: Tracker, name: str) -> str | None:
    """The latest message's first value for entity ``name`` (None when absent or empty)."""
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value not in (None, "") else None


def intent(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


def text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def is_button(tracker: Tracker) -> bool:
    """A tapped button or list row: its payload is an ``/intent`` command, and typed text
    never starts with "/" (the connector strips it)."""
    return text(tracker).startswith("/")
