"""Parse WhatsApp Cloud API webhooks into typed values, and map them to Rasa input.

Pure functions only: a decoded webhook body goes in, frozen dataclasses come out.
Nothing here raises on bad input; whatever cannot be understood becomes an
``Ignored`` value that the caller logs.

The mapping to Rasa follows docs/contracts.md ("Connector ⇄ Rasa"):

- free text reaches Rasa as text, with leading ``/`` removed so a partner can never
  type an intent command;
- reply buttons, list rows and template quick-reply buttons pass their id/payload
  (the bot's own ``/intent`` payloads) as the message text;
- image/document become ``/share_media{...}`` (with the ``caption`` when there is one,
  so a claim can tell an invoice from a display photo), location ``/share_location{...}``;
- every other kind becomes ``/unsupported_message{"message_type": ...}`` so the bot
  answers politely in the partner's language.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Message types as the Cloud API names them (``messages[].type``).
TEXT = "text"
INTERACTIVE = "interactive"
BUTTON = "button"  # template quick-reply button
IMAGE = "image"
DOCUMENT = "document"
AUDIO = "audio"
VIDEO = "video"
STICKER = "sticker"
LOCATION = "location"
REACTION = "reaction"
CONTACTS = "contacts"
UNSUPPORTED = "unsupported"
ORDER = "order"
SYSTEM = "system"

BUTTON_REPLY = "button_reply"
LIST_REPLY = "list_reply"

MEDIA_TYPES = (IMAGE, DOCUMENT, AUDIO, VIDEO, STICKER)
SHARED_MEDIA_TYPES = (IMAGE, DOCUMENT)  # handed to the bot (claims need photos/invoices)

# WhatsApp's own limit for a media caption; longer ones are cut before they reach Rasa.
MAX_CAPTION_CHARS = 1024

# Sent to Rasa when free text has nothing left after removing slashes.
EMPTY_TEXT_PLACEHOLDER = "?"

# A sender id becomes a tracker key and a URL path segment in the backend.
# BSUIDs look like "ID.13491208655302741918" (country code, dot, up to 128 chars).
# The backend stores ids of up to 160 characters (docs/contracts.md).
_SENDER_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,160}$")
_TYPE_NAME_RE = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of an ``errors`` array (on statuses and unsupported messages)."""

    code: int | None
    title: str | None
    message: str | None = None
    details: str | None = None


@dataclass(frozen=True)
class Media:
    """A media object of an inbound message; only the id is sent, never the bytes."""

    kind: str
    id: str | None
    mime_type: str | None = None
    caption: str | None = None
    sha256: str | None = None
    filename: str | None = None
    voice: bool | None = None
    animated: bool | None = None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class MessageContext:
    """What an inbound message refers to (a reply/button click on one of our messages)."""

    message_id: str | None
    from_id: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False


@dataclass(frozen=True)
class InboundMessage:
    """One message a partner sent.

    ``sender_id`` is the Rasa sender id: the ``wa_id`` when WhatsApp shares it,
    else the business-scoped user id (users with usernames may hide their number).
    """

    message_id: str
    sender_id: str
    type: str
    wa_id: str | None = None
    user_id: str | None = None
    timestamp: int | None = None
    subtype: str | None = None
    text: str | None = None
    payload: str | None = None
    description: str | None = None
    media: Media | None = None
    location: Location | None = None
    profile_name: str | None = None
    username: str | None = None
    context: MessageContext | None = None
    phone_number_id: str | None = None
    errors: tuple[ErrorDetail, ...] = ()


@dataclass(frozen=True)
class StatusUpdate:
    """Delivery status of a message we sent (sent/delivered/read/failed)."""

    message_id: str
    status: str
    recipient_id: str | None
    recipient_user_id: str | None = None
    timestamp: int | None = None
    errors: tuple[ErrorDetail, ...] = ()
    phone_number_id: str | None = None
    conversation_id: str | None = None
    pricing_category: str | None = None


@dataclass(frozen=True)
class Ignored:
    """Something in the webhook that produces no turn and no status (logged by the caller)."""

    reason: str
    detail: str | None = None


Update = InboundMessage | StatusUpdate | Ignored


# --------------------------------------------------------------------------- parsing


def parse_webhook(body: Any) -> list[Update]:
    """Parse a decoded webhook body into updates, in payload order.

    Handles any number of entries, changes, messages and statuses. Never raises.
    """
    if not isinstance(body, Mapping):
        return [Ignored("body is not a JSON object", type(body).__name__)]
    obj = body.get("object")
    if obj is not None and obj != "whatsapp_business_account":
        return [Ignored("not a WhatsApp Business Account webhook", _short(obj))]
    entries = body.get("entry")
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)) or not entries:
        return [Ignored("webhook has no entries")]

    updates: list[Update] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            updates.append(Ignored("entry is not an object", _short(entry)))
            continue
        changes = entry.get("changes")
        if not is_list(changes):
            updates.append(Ignored("entry has no changes", _short(entry.get("id"))))
            continue
        for change in changes:
            updates.extend(_parse_change(change))
    return updates


def _parse_change(change: Any) -> list[Update]:
    if not isinstance(change, Mapping):
        return [Ignored("change is not an object", _short(change))]
    field = change.get("field")
    if field != "messages":
        return [Ignored("unhandled webhook field", _short(field))]
    value = change.get("value")
    if not isinstance(value, Mapping):
        return [Ignored("change has no value")]

    metadata = value.get("metadata")
    phone_number_id = (
        _str(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else None
    )
    raw_contacts = value.get("contacts")
    contacts = [c for c in raw_contacts if isinstance(c, Mapping)] if is_list(raw_contacts) else []

    updates: list[Update] = []
    known = False
    if is_list(value.get("messages")):
        known = True
        for message in value["messages"]:
            updates.append(_guard(parse_message, message, contacts, phone_number_id))
    if is_list(value.get("statuses")):
        known = True
        for status in value["statuses"]:
            updates.append(_guard(parse_status, status, phone_number_id))
    if is_list(value.get("errors")):
        known = True
        errors = _errors(value["errors"])
        updates.append(Ignored("webhook reports errors", _describe_errors(errors)))
    if not known:
        updates.append(Ignored("change value has no messages or statuses", _short(sorted(value))))
    return updates


def _guard(func: Any, *args: Any) -> Update:
    # Parsing must never take the webhook down: one odd item becomes Ignored.
    try:
        return func(*args)
    except Exception as exc:  # noqa: BLE001 - deliberately broad, see comment above
        return Ignored("could not parse item", f"{type(exc).__name__}: {exc}")


def parse_message(
    message: Any, contacts: Sequence[Mapping[str, Any]] = (), phone_number_id: str | None = None
) -> InboundMessage | Ignored:
    """Parse one ``messages[]`` item; ``contacts`` is the sibling ``contacts`` array."""
    if not isinstance(message, Mapping):
        return Ignored("message is not an object", _short(message))
    message_id = _str(message.get("id"))
    if not message_id:
        return Ignored("message without id")

    from_wa_id = _str(message.get("from"))
    from_user_id = _str(message.get("from_user_id")) or _str(message.get("user_id"))
    contact = _match_contact(contacts, from_wa_id, from_user_id)
    profile = contact.get("profile") if isinstance(contact.get("profile"), Mapping) else {}

    wa_id = from_wa_id or _str(contact.get("wa_id"))
    user_id = from_user_id or _str(contact.get("user_id"))
    sender_id = wa_id or user_id
    if not sender_id:
        return Ignored("message without sender", message_id)
    if not _SENDER_ID_RE.match(sender_id):
        return Ignored("message with an invalid sender id", message_id)

    msg_type = _str(message.get("type")) or "unknown"
    fields: dict[str, Any] = {}
    if msg_type == TEXT:
        fields["text"] = _str_keep(_obj(message, TEXT).get("body")) or ""
    elif msg_type == INTERACTIVE:
        fields.update(_interactive_fields(_obj(message, INTERACTIVE)))
    elif msg_type == BUTTON:
        button = _obj(message, BUTTON)
        fields["payload"] = _str(button.get("payload"))
        fields["text"] = _str_keep(button.get("text"))
    elif msg_type in MEDIA_TYPES:
        fields["media"] = _media(msg_type, _obj(message, msg_type))
        fields["text"] = fields["media"].caption
    elif msg_type == LOCATION:
        fields["location"] = _location(_obj(message, LOCATION))
    elif msg_type == REACTION:
        reaction = _obj(message, REACTION)
        fields["text"] = _str_keep(reaction.get("emoji"))
        fields["context"] = MessageContext(message_id=_str(reaction.get("message_id")))
    elif msg_type == SYSTEM:
        system = _obj(message, SYSTEM)
        fields["subtype"] = _str(system.get("type"))
        fields["text"] = _str_keep(system.get("body"))

    context = fields.pop("context", None) or _context(message.get("context"))
    return InboundMessage(
        message_id=message_id,
        sender_id=sender_id,
        type=msg_type,
        wa_id=wa_id,
        user_id=user_id,
        timestamp=_int(message.get("timestamp")),
        profile_name=_str_keep(profile.get("name")),
        username=_str(profile.get("username")) or _str(contact.get("username")),
        context=context,
        phone_number_id=phone_number_id,
        errors=_errors(message.get("errors")),
        **fields,
    )


def parse_status(status: Any, phone_number_id: str | None = None) -> StatusUpdate | Ignored:
    """Parse one ``statuses[]`` item."""
    if not isinstance(status, Mapping):
        return Ignored("status is not an object", _short(status))
    message_id = _str(status.get("id"))
    state = _str(status.get("status"))
    if not message_id or not state:
        return Ignored("status without id or state", message_id)
    conversation = status.get("conversation")
    pricing = status.get("pricing")
    recipient_user_id = _str(status.get("recipient_user_id"))
    return StatusUpdate(
        message_id=message_id,
        status=state,
        recipient_id=_str(status.get("recipient_id")) or recipient_user_id,
        recipient_user_id=recipient_user_id,
        timestamp=_int(status.get("timestamp")),
        errors=_errors(status.get("errors")),
        phone_number_id=phone_number_id,
        conversation_id=_str(conversation.get("id")) if isinstance(conversation, Mapping) else None,
        pricing_category=_str(pricing.get("category")) if isinstance(pricing, Mapping) else None,
    )


def _match_contact(
    contacts: Sequence[Mapping[str, Any]], wa_id: str | None, user_id: str | None
) -> Mapping[str, Any]:
    for contact in contacts:
        if wa_id and _str(contact.get("wa_id")) == wa_id:
            return contact
        if user_id and _str(contact.get("user_id")) == user_id:
            return contact
    # A single contact belongs to the single sender of the change.
    if len(contacts) == 1 and not (wa_id and _str(contacts[0].get("wa_id"))):
        return contacts[0]
    return {}


def _interactive_fields(interactive: Mapping[str, Any]) -> dict[str, Any]:
    subtype = _str(interactive.get("type"))
    fields: dict[str, Any] = {"subtype": subtype}
    if subtype in (BUTTON_REPLY, LIST_REPLY):
        reply = _obj(interactive, subtype)
        fields["payload"] = _str(reply.get("id"))
        fields["text"] = _str_keep(reply.get("title"))
        fields["description"] = _str_keep(reply.get("description"))
    return fields


def _media(kind: str, data: Mapping[str, Any]) -> Media:
    return Media(
        kind=kind,
        id=_str(data.get("id")),
        mime_type=_str(data.get("mime_type")),
        caption=_str_keep(data.get("caption")),
        sha256=_str(data.get("sha256")),
        filename=_str_keep(data.get("filename")),
        voice=data.get("voice") if isinstance(data.get("voice"), bool) else None,
        animated=data.get("animated") if isinstance(data.get("animated"), bool) else None,
    )


def _location(data: Mapping[str, Any]) -> Location | None:
    latitude, longitude = _float(data.get("latitude")), _float(data.get("longitude"))
    if latitude is None or longitude is None:
        return None
    return Location(
        latitude=latitude,
        longitude=longitude,
        name=_str_keep(data.get("name")),
        address=_str_keep(data.get("address")),
        url=_str(data.get("url")),
    )


def _context(data: Any) -> MessageContext | None:
    if not isinstance(data, Mapping):
        return None
    return MessageContext(
        message_id=_str(data.get("id")),
        from_id=_str(data.get("from")),
        forwarded=data.get("forwarded") is True,
        frequently_forwarded=data.get("frequently_forwarded") is True,
    )


def _errors(data: Any) -> tuple[ErrorDetail, ...]:
    if not is_list(data):
        return ()
    errors = []
    for item in data:
        if not isinstance(item, Mapping):
            continue
        error_data = item.get("error_data")
        errors.append(
            ErrorDetail(
                code=_int(item.get("code")),
                title=_str_keep(item.get("title")),
                message=_str_keep(item.get("message")),
                details=_str_keep(error_data.get("details"))
                if isinstance(error_data, Mapping)
                else None,
            )
        )
    return tuple(errors)


def _describe_errors(errors: Sequence[ErrorDetail]) -> str:
    return "; ".join(f"{e.code}: {e.title}" for e in errors) or "-"


# --------------------------------------------------------------------- Rasa mapping


def sanitize_free_text(text: str | None) -> str:
    """Make typed text safe: it must never be read as an ``/intent`` command.

    Rasa strips whitespace before checking for ``/``, so whitespace and slashes are
    removed together until something else comes first. Nothing left → ``"?"``.
    """
    value = text or ""
    start = 0
    while start < len(value) and (value[start] == "/" or value[start].isspace()):
        start += 1
    cleaned = value[start:].strip()
    return cleaned or EMPTY_TEXT_PLACEHOLDER


def to_rasa_text(message: InboundMessage) -> str:
    """The text Rasa receives for an inbound message (see module docstring)."""
    if message.type == TEXT:
        return sanitize_free_text(message.text)
    if message.type == BUTTON or (
        message.type == INTERACTIVE and message.subtype in (BUTTON_REPLY, LIST_REPLY)
    ):
        if message.payload and message.payload.strip():
            return message.payload.strip()
        return sanitize_free_text(message.text)
    if message.type in SHARED_MEDIA_TYPES and message.media and message.media.id:
        entities = {"media_id": message.media.id, "media_type": message.type}
        caption = (message.media.caption or "").strip()
        if caption:
            entities["caption"] = caption[:MAX_CAPTION_CHARS]
        return "/share_media" + json.dumps(entities, ensure_ascii=False)
    if message.type == LOCATION and message.location:
        entities = {
            "latitude": message.location.latitude,
            "longitude": message.location.longitude,
        }
        return "/share_location" + json.dumps(entities)
    return "/unsupported_message" + json.dumps({"message_type": unsupported_type_name(message)})


def unsupported_type_name(message: InboundMessage) -> str:
    """A safe, short type name for ``/unsupported_message`` (unknown types included)."""
    name = message.type
    return name if _TYPE_NAME_RE.match(name) else "unknown"


def to_rasa_metadata(message: InboundMessage) -> dict[str, Any]:
    """Metadata attached to every ``UserMessage``: ``{"whatsapp": {...}}``."""
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "timestamp": message.timestamp,
        "type": message.type,
        "profile_name": message.profile_name,
        "phone_number_id": message.phone_number_id,
        "wa_id": message.wa_id,
        "user_id": message.user_id,
    }
    if message.username:
        data["username"] = message.username
    if message.subtype:
        data["subtype"] = message.subtype
    if message.payload is not None or (
        message.type in (BUTTON, INTERACTIVE) and message.text is not None
    ):
        data["reply"] = {
            "id": message.payload,
            "title": message.text,
            "description": message.description,
        }
    if message.media:
        data["media"] = {
            "id": message.media.id,
            "kind": message.media.kind,
            "mime_type": message.media.mime_type,
            "caption": message.media.caption,
            "sha256": message.media.sha256,
            "filename": message.media.filename,
        }
    if message.location:
        loc = message.location
        data["location"] = {
            "latitude": loc.latitude,
            "longitude": loc.longitude,
            "name": loc.name,
            "address": loc.address,
        }
    if message.type == REACTION:
        data["reaction"] = {"emoji": message.text}
    if message.context:
        data["context"] = {
            "message_id": message.context.message_id,
            "from": message.context.from_id,
            "forwarded": message.context.forwarded,
            "frequently_forwarded": message.context.frequently_forwarded,
        }
    if message.errors:
        data["errors"] = [{"code": e.code, "title": e.title} for e in message.errors]
    return {"whatsapp": data}


# -------------------------------------------------------------------------- helpers


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _obj(container: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = container.get(key)
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    """A non-empty, stripped string id, or None (numbers are accepted as ids)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, str)):
        text = str(value).strip()
        return text or None
    return None


def _str_keep(value: Any) -> str | None:
    """User-visible text kept as sent (no stripping), or None."""
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
