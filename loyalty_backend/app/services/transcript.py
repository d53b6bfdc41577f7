"""Rasa tracker events -> the conversation as the support console shows it (pure).

Each message is ``{"from": "partner"|"bot"|"agent"|"system", "text", "buttons": [str],
"media": {"type"}|None, "agent_name": str|None, "timestamp": iso8601}``:

- ``user`` events are the partner's, except the program's own triggers (a notice, the
  hand-back, the no-agent notice: ``trigger_intent`` marks them ``is_external`` and their
  text ``EXTERNAL: <intent>``), which are left out. The connector turns taps and media
  into ``/intent`` payloads (docs/contracts.md, "Connector ⇄ Rasa"), which agents should
  not have to decode: a tap shows the button's title (from the WhatsApp metadata, else the title of
  the button with that payload in the bot's last message, else ``[tap] intent``); a photo
  or document shows its caption with ``media: {"type": "image"|"document"}``; a location
  ``[location]``; anything the bot cannot read ``[audio]``, ``[sticker]``...
- ``bot`` events are the bot's, or an agent's when their metadata carries ``agent`` (the
  backend posts agents' replies that way); buttons show their titles.
- ``pause`` / ``resume`` become ``system`` lines (an agent took over / the bot is back).
"""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

_COMMAND = re.compile(r"^/+([A-Za-z0-9_]+)\s*(\{.*\})?\s*$", re.DOTALL)
_EXTERNAL_PREFIX = "EXTERNAL: "  # Rasa's text for an intent triggered through its API
SYSTEM_TEXT = {
    "pause": "The bot is paused: a person handles this chat",
    "resume": "The bot is back in this chat",
}


def is_partner_message(event: Any) -> bool:
    """A ``user`` event the partner wrote (not one the program triggered)."""
    if not isinstance(event, dict) or event.get("event") != "user":
        return False
    metadata = event.get("metadata")
    if isinstance(metadata, dict) and metadata.get("is_external"):
        return False
    return not str(event.get("text") or "").startswith(_EXTERNAL_PREFIX)


def _timestamp(event: dict[str, Any]) -> str | None:
    value = event.get("timestamp")
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC).isoformat()


def _message(
    sender: str,
    text: str,
    event: dict[str, Any],
    *,
    buttons: list[str] | None = None,
    media: dict[str, str] | None = None,
    agent_name: str | None = None,
) -> dict[str, Any]:
    return {
        "from": sender,
        "text": text,
        "buttons": buttons or [],
        "media": media,
        "agent_name": agent_name,
        "timestamp": _timestamp(event),
    }


def _entities(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _reply_title(event: dict[str, Any]) -> str | None:
    """The tapped button's title, as the connector recorded it from WhatsApp."""
    metadata = event.get("metadata")
    whatsapp = metadata.get("whatsapp") if isinstance(metadata, dict) else None
    reply = whatsapp.get("reply") if isinstance(whatsapp, dict) else None
    title = reply.get("title") if isinstance(reply, dict) else None
    return title if isinstance(title, str) and title.strip() else None


def _partner_message(event: dict[str, Any], last_buttons: dict[str, str]) -> dict[str, Any]:
    text = event.get("text") or ""
    command = _COMMAND.match(text) if text.startswith("/") else None
    if command is None:
        return _message("partner", text, event)
    intent, entities = command.group(1), _entities(command.group(2))
    if intent == "share_media":
        kind = entities.get("media_type") if entities.get("media_type") else "image"
        caption = entities.get("caption")
        return _message(
            "partner", caption if isinstance(caption, str) else "", event, media={"type": kind}
        )
    if intent == "share_location":
        return _message("partner", "[location]", event, media={"type": "location"})
    if intent == "unsupported_message":
        kind = str(entities.get("message_type") or "unsupported")
        return _message("partner", f"[{kind}]", event, media={"type": kind})
    title = _reply_title(event) or last_buttons.get(text.strip())
    return _message("partner", title or f"[tap] {intent}", event)


def _buttons(event: dict[str, Any]) -> list[dict[str, Any]]:
    data = event.get("data")
    buttons = data.get("buttons") if isinstance(data, dict) else None
    return [b for b in buttons or [] if isinstance(b, dict)]


def _bot_message(event: dict[str, Any]) -> dict[str, Any] | None:
    buttons = [str(b.get("title") or b.get("payload") or "") for b in _buttons(event)]
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    media = {"type": "image"} if data.get("image") else None
    text = event.get("text") or ""
    if not text and not buttons and media is None:
        return None  # e.g. a custom payload with nothing to read
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    agent = metadata.get("agent")
    if isinstance(agent, dict):
        name = agent.get("name")
        return _message(
            "agent",
            text,
            event,
            buttons=buttons,
            media=media,
            agent_name=name if isinstance(name, str) else None,
        )
    return _message("bot", text, event, buttons=buttons, media=media)


def messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation, oldest first."""
    found: list[dict[str, Any]] = []
    last_buttons: dict[str, str] = {}  # payload -> title, of the bot's latest buttons
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind == "user":
            if is_partner_message(event):
                found.append(_partner_message(event, last_buttons))
        elif kind == "bot":
            message = _bot_message(event)
            if message is not None:
                found.append(message)
                buttons = _buttons(event)
                if buttons:
                    last_buttons = {
                        str(b.get("payload")): str(b.get("title") or "") for b in buttons
                    }
        elif kind in SYSTEM_TEXT:
            found.append(_message("system", SYSTEM_TEXT[kind], event))
    return found


# WhatsApp's customer-service window: a free-form message may go to a partner who wrote
# within it; after it, only an approved template (Meta answers 131047 otherwise).
SERVICE_WINDOW = timedelta(hours=24)


def within_window(last_partner_message: datetime | None, now: datetime) -> bool:
    """Whether a free-form message may go now (never, if the partner never wrote)."""
    return last_partner_message is not None and now - last_partner_message < SERVICE_WINDOW


def last_partner_message_at(events: list[dict[str, Any]]) -> datetime | None:
    """When the partner last wrote (WhatsApp's 24-hour window for free-form replies)."""
    for event in reversed(events):
        if is_partner_message(event):
            value = event.get("timestamp")
            if isinstance(value, int | float):
                return datetime.fromtimestamp(value, UTC)
    return None
