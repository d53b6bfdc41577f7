"""The partner simulator: turn a short ``/sandbox/inbound`` request into a Cloud API message.

Request shapes (``from`` always required, ``name``/``message_id``/``timestamp`` optional):
``text``; ``button_reply {id, title}``; ``list_reply {id, title, description?}``;
``button {payload, text}`` (template quick reply); ``image|document|audio|video|sticker
{media_id?, caption?, filename?, mime_type?, seed?}`` (media generated when no media_id);
``location {latitude, longitude, name?, address?, url?}``; ``reaction {emoji, message_id?}``;
``contacts [..]``; or ``type`` naming any of these (``unsupported`` too) with its object.
"""

from __future__ import annotations

import base64
import hashlib
import time

from sandbox import media as media_files
from sandbox.partners import profile_name
from sandbox.state import SandboxState
from sandbox.store import new_wamid

MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")
KINDS = (
    "text",
    "button_reply",
    "list_reply",
    "button",
    *MEDIA_KINDS,
    "location",
    "reaction",
    "contacts",
    "unsupported",
)


class SimulatorError(ValueError):
    """The sandbox request itself is malformed (answered 400 with ``{"error": ...}``)."""


def detect_kind(request: dict) -> str:
    explicit = request.get("type")
    if explicit is not None:
        if explicit == "interactive":
            interactive = request.get("interactive") or {}
            explicit = interactive.get("type", "")
        if explicit not in KINDS:
            raise SimulatorError(f"unknown type {explicit!r}; use one of {', '.join(KINDS)}")
        return explicit
    for kind in KINDS:
        if kind in request:
            return kind
    raise SimulatorError(f"say what the partner sends: one of {', '.join(KINDS)}")


def _obj(request: dict, key: str) -> dict:
    value = request.get(key)
    if value is None and key == "button_reply" and isinstance(request.get("interactive"), dict):
        value = request["interactive"].get(key)
    if value is None and key == "list_reply" and isinstance(request.get("interactive"), dict):
        value = request["interactive"].get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SimulatorError(f"{key} must be an object")
    return value


def build_message(state: SandboxState, request: dict) -> tuple[str, str, dict, str]:
    """(wa_id, profile name, Cloud API ``messages[]`` item, kind) for a simulator request."""
    if not isinstance(request, dict):
        raise SimulatorError("body must be a JSON object")
    wa_id = request.get("from")
    if wa_id is None or str(wa_id).strip() == "":
        raise SimulatorError("'from' (the partner's WhatsApp id) is required")
    wa_id = str(wa_id).strip().lstrip("+")
    kind = detect_kind(request)
    message: dict = {
        "from": wa_id,
        "id": str(request.get("message_id") or new_wamid(wa_id, inbound=True)),
        "timestamp": str(request.get("timestamp") or int(time.time())),
    }
    context = _context(state, wa_id, kind, request)
    if context:
        message["context"] = context
    message.update(_BUILDERS[kind](state, wa_id, request, kind))
    name = request.get("name") or profile_name(wa_id)
    return wa_id, str(name), message, kind


def _context(state: SandboxState, wa_id: str, kind: str, request: dict) -> dict | None:
    """Replies quote the message they answer, as WhatsApp does."""
    given = request.get("context")
    if isinstance(given, dict) and (given.get("message_id") or given.get("id")):
        return {
            "from": state.settings.display_phone_number,
            "id": given.get("message_id") or given.get("id"),
        }
    if request.get("forwarded"):
        return {"forwarded": True}
    reply_id = None
    if kind in ("button_reply", "list_reply"):
        reply_id = _obj(request, kind).get("id")
    elif kind == "button":
        reply_id = _obj(request, "button").get("payload")
    if reply_id is None:
        return None
    quoted = state.store.find_interactive(wa_id, str(reply_id))
    if quoted is None:
        return None
    return {"from": state.settings.display_phone_number, "id": quoted.id}


def _text(state, wa_id, request, kind) -> dict:
    text = request.get("text")
    body = text.get("body") if isinstance(text, dict) else text
    if not isinstance(body, str) or body == "":
        raise SimulatorError("text must be a non-empty string (or {'body': ...})")
    return {"type": "text", "text": {"body": body}}


def _reply(state, wa_id, request, kind) -> dict:
    reply = _obj(request, kind)
    if not reply.get("id") or not reply.get("title"):
        raise SimulatorError(f"{kind} needs 'id' and 'title'")
    item = {"id": str(reply["id"]), "title": str(reply["title"])}
    if kind == "list_reply" and reply.get("description"):
        item["description"] = str(reply["description"])
    return {"type": "interactive", "interactive": {"type": kind, kind: item}}


def _quick_reply(state, wa_id, request, kind) -> dict:
    button = _obj(request, "button")
    if not button.get("payload") and not button.get("text"):
        raise SimulatorError("button needs 'payload' and/or 'text'")
    payload = str(button.get("payload") or button.get("text"))
    return {
        "type": "button",
        "button": {"payload": payload, "text": str(button.get("text") or payload)},
    }


def _media(state: SandboxState, wa_id, request, kind) -> dict:
    spec = _obj(request, kind)
    media_id = spec.get("media_id") or spec.get("id")
    item: dict = {}
    if spec.get("caption") and kind in ("image", "video", "document"):
        item["caption"] = str(spec["caption"])
    if media_id:
        stored = state.store.get_media(str(media_id))
        if stored is not None:
            mime_type, sha256, filename = stored.mime_type, stored.sha256_b64, stored.filename
        else:  # an id the sandbox never saw: the bot's download will fail, as it may on Meta
            mime_type = spec.get("mime_type") or _DEFAULT_MIME[kind]
            sha256 = base64.b64encode(hashlib.sha256(str(media_id).encode()).digest()).decode()
            filename = spec.get("filename")
    else:
        seed = spec.get("seed")
        data, mime_type, filename = media_files.generate(
            kind, int(seed) if seed is not None else None
        )
        stored = state.store.add_media(data, mime_type, spec.get("filename") or filename)
        media_id, sha256, filename = stored.id, stored.sha256_b64, stored.filename
    if kind == "document":
        item["filename"] = spec.get("filename") or filename or "document.pdf"
    item.update({"mime_type": mime_type, "sha256": sha256, "id": str(media_id)})
    if kind == "audio":
        item["voice"] = bool(spec.get("voice", True))
    if kind == "sticker":
        item["animated"] = bool(spec.get("animated", False))
    return {"type": kind, kind: item}


_DEFAULT_MIME = {
    "image": "image/jpeg",
    "document": "application/pdf",
    "audio": "audio/ogg; codecs=opus",
    "video": "video/mp4",
    "sticker": "image/webp",
}


def _location(state, wa_id, request, kind) -> dict:
    spec = _obj(request, "location")
    try:
        location = {"latitude": float(spec["latitude"]), "longitude": float(spec["longitude"])}
    except (KeyError, TypeError, ValueError):
        raise SimulatorError("location needs numeric 'latitude' and 'longitude'") from None
    for key in ("name", "address", "url"):
        if spec.get(key):
            location[key] = str(spec[key])
    return {"type": "location", "location": location}


def _reaction(state: SandboxState, wa_id, request, kind) -> dict:
    spec = _obj(request, "reaction")
    message_id = spec.get("message_id")
    if not message_id:
        latest = state.store.sent(wa_id)[-1:]
        if not latest:
            raise SimulatorError("reaction needs 'message_id' (no bot message to react to yet)")
        message_id = latest[0].id
    return {
        "type": "reaction",
        "reaction": {"message_id": str(message_id), "emoji": str(spec.get("emoji", "👍"))},
    }


def _contacts(state, wa_id, request, kind) -> dict:
    contacts = request.get("contacts")
    if not contacts:
        contacts = [
            {
                "name": {
                    "formatted_name": "Dewi Anggraini",
                    "first_name": "Dewi",
                    "last_name": "Anggraini",
                },
                "phones": [
                    {"phone": "+62 812-0000-0099", "wa_id": "6281200000099", "type": "CELL"}
                ],
            }
        ]
    if not isinstance(contacts, list):
        raise SimulatorError("contacts must be an array")
    return {"type": "contacts", "contacts": contacts}


def _unsupported(state, wa_id, request, kind) -> dict:
    return {
        "type": "unsupported",
        "errors": [
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."},
            }
        ],
    }


_BUILDERS = {
    "text": _text,
    "button_reply": _reply,
    "list_reply": _reply,
    "button": _quick_reply,
    **{kind: _media for kind in MEDIA_KINDS},
    "location": _location,
    "reaction": _reaction,
    "contacts": _contacts,
    "unsupported": _unsupported,
}
