"""Validate an outbound ``/messages`` payload the way the Cloud API does.

Pure: payload in, message kind out, ``PayloadError`` (HTTP 400 + Graph error) when Meta
would refuse it. The limits are Meta's published ones; the connector must respect them,
so the sandbox refuses what WhatsApp would refuse instead of silently recording it.
"""

from __future__ import annotations

from typing import Any

from sandbox.errors import PayloadError

MESSAGE_TYPES = (
    "text",
    "interactive",
    "image",
    "document",
    "template",
    "audio",
    "video",
    "sticker",
    "location",
    "reaction",
    "contacts",
)
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
INTERACTIVE_TYPES = (
    "button",
    "list",
    "cta_url",
    "flow",
    "product",
    "product_list",
    "location_request_message",
    "address_message",
)

TEXT_BODY_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
HEADER_TEXT_MAX = 60
FOOTER_TEXT_MAX = 60
CAPTION_MAX = 1024
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
LIST_SECTIONS_MAX = 10
LIST_ROWS_MAX = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
SECTION_TITLE_MAX = 24

READ = "read"


def _invalid(details: str) -> PayloadError:
    return PayloadError(131009, details)


def _param(details: str) -> PayloadError:
    return PayloadError(100, details, "(#100) Invalid parameter")


def _required(name: str) -> PayloadError:
    return PayloadError(
        100, f"The parameter {name} is required.", f"(#100) The parameter {name} is required."
    )


def _missing(name: str) -> PayloadError:
    return PayloadError(131008, f"The parameter {name} is required.")


def _fits(value: Any, max_len: int, min_len: int = 1) -> bool:
    return isinstance(value, str) and min_len <= len(value) <= max_len


def _bad_length(what: str, max_len: int, got: Any, min_len: int = 1) -> PayloadError:
    return _invalid(
        f"{what} length invalid. Min length: {min_len}, Max length: {max_len}, got {got!r}."
    )


def _obj(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise _missing(name) if value is None else _param(f"Param {name} must be a JSON object.")
    return value


def _text(value: Any, name: str, max_len: int, *, min_len: int = 1, code: int = 131009) -> str:
    if value is None:
        raise _missing(name)
    if not isinstance(value, str):
        raise _param(f"Param {name} must be a string.")
    if not min_len <= len(value) <= max_len:
        details = f"Param {name} must be between {min_len} and {max_len} characters long."
        raise PayloadError(code, details, "(#100) Invalid parameter" if code == 100 else None)
    return value


def _optional_text(parent: dict, key: str, name: str, max_len: int) -> None:
    if parent.get(key) is not None:
        _text(parent[key], name, max_len, min_len=0)


def recipient_of(payload: dict) -> str | None:
    """Phone numbers are sent in ``to``; business-scoped user ids in ``recipient``."""
    return payload.get("to") or payload.get("recipient")


def validate_send(payload: Any) -> str:
    """Return the message type (or ``"read"`` for a mark-as-read receipt); raise if invalid."""
    if not isinstance(payload, dict):
        raise _param("The request body must be a JSON object.")
    product = payload.get("messaging_product")
    if product is None:
        raise _required("messaging_product")
    if product != "whatsapp":
        raise _param(f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')

    if "status" in payload:
        if payload["status"] != "read":
            raise _param(f'Param status must be one of {{READ}} - got "{payload["status"]}".')
        message_id = payload.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise _required("message_id")
        return READ

    to = recipient_of(payload)
    if to is None or to == "":
        raise _required("to")
    if not isinstance(to, str):
        raise _param("Param to must be a string.")
    recipient_type = payload.get("recipient_type", "individual")
    if recipient_type not in ("individual", "group"):
        raise _param(
            f'Param recipient_type must be one of {{INDIVIDUAL, GROUP}} - got "{recipient_type}".'
        )

    msg_type = payload.get("type", "text")  # Meta defaults a missing type to text
    if msg_type not in MESSAGE_TYPES:
        allowed = ", ".join(t.upper() for t in MESSAGE_TYPES)
        raise _param(f'Param type must be one of {{{allowed}}} - got "{msg_type}".')
    body = payload.get(msg_type)
    if body is None:
        raise _required(msg_type)
    if msg_type == "contacts":
        _check_contacts(body)
    else:
        _CHECKS[msg_type](_obj(body, msg_type))
    context = payload.get("context")
    if context is not None:
        _text(_obj(context, "context").get("message_id"), "context['message_id']", 256)
    return msg_type


def _check_text(text: dict) -> None:
    _text(text.get("body"), "text['body']", TEXT_BODY_MAX, code=100)
    preview = text.get("preview_url")
    if preview is not None and not isinstance(preview, bool):
        raise _param("Param text['preview_url'] must be a boolean.")


def _check_media(kind: str):
    def check(media: dict) -> None:
        has_id, has_link = bool(media.get("id")), bool(media.get("link"))
        if has_id == has_link:
            raise _param(f"Param {kind} must have exactly one of 'id' or 'link'.")
        if "caption" in media and kind in ("audio", "sticker"):
            raise _param(f"Param {kind}['caption'] is not allowed for {kind} messages.")
        _optional_text(media, "caption", f"{kind}['caption']", CAPTION_MAX)
        _optional_text(media, "filename", f"{kind}['filename']", 240)

    return check


def _check_template(template: dict) -> None:
    _text(template.get("name"), "template['name']", 512)
    language = _obj(template.get("language"), "template['language']")
    _text(language.get("code"), "template['language']['code']", 15)
    components = template.get("components")
    if components is not None and not isinstance(components, list):
        raise _param("Param template['components'] must be an array.")


def _check_location(location: dict) -> None:
    for key in ("latitude", "longitude"):
        value = location.get(key)
        if value is None:
            raise _missing(f"location['{key}']")
        try:
            float(value)
        except (TypeError, ValueError):
            raise _param(f"Param location['{key}'] must be a number.") from None


def _check_reaction(reaction: dict) -> None:
    _text(reaction.get("message_id"), "reaction['message_id']", 256)
    emoji = reaction.get("emoji")
    if emoji is None or not isinstance(emoji, str):
        raise _missing("reaction['emoji']")


def _check_contacts(contacts: Any) -> None:
    if not isinstance(contacts, list) or not contacts:
        raise _param("Param contacts must be a non-empty array.")
    for i, contact in enumerate(contacts):
        name = _obj(_obj(contact, f"contacts[{i}]").get("name"), f"contacts[{i}]['name']")
        _text(name.get("formatted_name"), f"contacts[{i}]['name']['formatted_name']", 512)


def _check_interactive(interactive: dict) -> None:
    kind = interactive.get("type")
    if kind is None:
        raise _missing("interactive['type']")
    if kind not in INTERACTIVE_TYPES:
        allowed = ", ".join(t.upper() for t in INTERACTIVE_TYPES)
        raise _param(f"Param interactive['type'] must be one of {{{allowed}}} - got \"{kind}\".")
    action = _obj(interactive.get("action"), "interactive['action']")
    if kind in ("button", "list", "cta_url", "location_request_message"):
        body = _obj(interactive.get("body"), "interactive['body']")
        _text(body.get("text"), "interactive['body']['text']", INTERACTIVE_BODY_MAX)
    elif interactive.get("body") is not None:
        _optional_text(
            _obj(interactive["body"], "interactive['body']"),
            "text",
            "interactive['body']['text']",
            INTERACTIVE_BODY_MAX,
        )
    footer = interactive.get("footer")
    if footer is not None:
        _text(
            _obj(footer, "interactive['footer']").get("text"),
            "interactive['footer']['text']",
            FOOTER_TEXT_MAX,
        )
    header = interactive.get("header")
    if header is not None:
        _check_header(_obj(header, "interactive['header']"), kind)
    if kind == "button":
        _check_buttons(action)
    elif kind == "list":
        _check_list(action)
    elif kind == "cta_url":
        params = _obj(action.get("parameters"), "interactive['action']['parameters']")
        _text(
            params.get("display_text"),
            "interactive['action']['parameters']['display_text']",
            BUTTON_TITLE_MAX,
        )
        _text(params.get("url"), "interactive['action']['parameters']['url']", 2000)


def _check_header(header: dict, kind: str) -> None:
    header_type = header.get("type")
    allowed = ("text",) if kind == "list" else ("text", "image", "video", "document")
    if header_type not in allowed:
        raise _invalid(f"Header type must be one of {list(allowed)} for {kind} messages.")
    if header_type == "text":
        _text(header.get("text"), "interactive['header']['text']", HEADER_TEXT_MAX)
    else:
        _check_media(header_type)(
            _obj(header.get(header_type), f"interactive['header']['{header_type}']")
        )


def _check_buttons(action: dict) -> None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not BUTTONS_MAX >= len(buttons) >= 1:
        count = len(buttons) if isinstance(buttons, list) else 0
        raise _invalid(f"Invalid buttons count. Min: 1, Max: {BUTTONS_MAX}, got {count}.")
    ids, titles = set(), set()
    for i, button in enumerate(buttons):
        button = _obj(button, f"buttons[{i}]")
        if button.get("type") != "reply":
            raise _invalid(f"buttons[{i}]['type'] must be 'reply'.")
        reply = _obj(button.get("reply"), f"buttons[{i}]['reply']")
        title = reply.get("title")
        if not _fits(title, BUTTON_TITLE_MAX):
            raise _bad_length("Button title", BUTTON_TITLE_MAX, title)
        button_id = reply.get("id")
        if not _fits(button_id, BUTTON_ID_MAX):
            raise _bad_length("Button id", BUTTON_ID_MAX, button_id)
        if button_id in ids:
            raise _invalid(f"Button ids must be unique, {button_id!r} repeats.")
        if title in titles:
            raise _invalid(f"Button titles must be unique, {title!r} repeats.")
        ids.add(button_id)
        titles.add(title)


def _check_list(action: dict) -> None:
    label = action.get("button")
    if not _fits(label, LIST_BUTTON_MAX):
        raise _bad_length("Button label", LIST_BUTTON_MAX, label)
    sections = action.get("sections")
    if not isinstance(sections, list) or not LIST_SECTIONS_MAX >= len(sections) >= 1:
        raise _invalid(f"Invalid sections count. Min: 1, Max: {LIST_SECTIONS_MAX}.")
    total, ids = 0, set()
    for s, section in enumerate(sections):
        section = _obj(section, f"sections[{s}]")
        title = section.get("title")
        if title is None and len(sections) > 1:
            raise _invalid(f"sections[{s}]['title'] is required with more than one section.")
        if title is not None and not _fits(title, SECTION_TITLE_MAX):
            raise _bad_length("Section title", SECTION_TITLE_MAX, title)
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise _invalid(f"sections[{s}]['rows'] must be a non-empty array.")
        total += len(rows)
        for r, row in enumerate(rows):
            row = _obj(row, f"sections[{s}]['rows'][{r}]")
            row_title = row.get("title")
            if not _fits(row_title, ROW_TITLE_MAX):
                raise _bad_length("Row title", ROW_TITLE_MAX, row_title)
            description = row.get("description")
            if description is not None and not _fits(description, ROW_DESCRIPTION_MAX, 0):
                raise _bad_length("Row description", ROW_DESCRIPTION_MAX, description, 0)
            row_id = row.get("id")
            if not _fits(row_id, ROW_ID_MAX):
                raise _bad_length("Row id", ROW_ID_MAX, row_id)
            if row_id in ids:
                raise _invalid(f"Row ids must be unique, {row_id!r} repeats.")
            ids.add(row_id)
    if total > LIST_ROWS_MAX:
        raise _invalid(f"Invalid rows count. Max: {LIST_ROWS_MAX} in total, got {total}.")


_CHECKS = {
    "text": _check_text,
    "interactive": _check_interactive,
    "template": _check_template,
    "location": _check_location,
    "reaction": _check_reaction,
    **{kind: _check_media(kind) for kind in MEDIA_TYPES},
}
