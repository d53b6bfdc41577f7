"""Render Rasa bot responses as WhatsApp Cloud API message payloads.

Pure functions: a response dict (what Rasa passes to ``OutputChannel.send_response``:
``text``, ``buttons``/``quick_replies``, ``image``, ``attachment``, ``custom``,
``elements``) goes in, a list of ``POST /{phone_number_id}/messages`` bodies comes out,
in the order they must be sent.

Choices (WhatsApp rejects payloads beyond its limits, so they are enforced here):

- text longer than 4096 characters is split at paragraph, then line, then sentence,
  then word boundaries (a hard cut only for a single 4096-character word);
- up to 3 buttons → interactive reply buttons (title ≤ 20, id ≤ 256);
- 4–10 buttons → an interactive list (row title ≤ 24, the rest of a long title
  becomes the row description ≤ 72, row id ≤ 200, body ≤ 1024);
- more than 10 buttons → a list with the first 9 and a final "more" row whose
  payload (default ``/menu``) lets the bot show the rest; WhatsApp allows 10 rows;
- a button's ``description`` becomes its row's description; a button's ``section``
  groups rows: consecutive buttons with the same ``section`` make one list section
  titled by it (≤ 24), and buttons with sections are always a list, even 1–3 of them
  (sections exist only in lists). The 10 rows are counted across all sections. With
  several sections each needs a title: rows without a ``section`` among them are
  titled ``section_title``, or else ``more_title``;
- titles that are too long are cut with "…"; ids (the bot payloads) are cut hard,
  which a domain author notices in the logs of the test conversation;
- ``custom`` payloads: ``{"whatsapp_template": {...}}`` → a template message,
  ``{"whatsapp": {...} | [...]}`` → raw message object(s) passed through (addressing
  is always set from the recipient), ``{"whatsapp_options": {...}}`` → presentation
  options for the buttons of the same response (``list_button`` label, ``header``,
  ``footer``, ``section_title``, ``more_title``, ``more_payload``);
- image and attachment are sent after the text, as Rasa's own channels do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import unquote, urlparse

from connectors.whatsapp_payloads import is_list

TEXT_MAX = 4096
BODY_MAX = 1024
CAPTION_MAX = 1024
HEADER_MAX = 60
FOOTER_MAX = 60
REPLY_BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_ROWS_MAX = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
LIST_BUTTON_MAX = 20
SECTION_TITLE_MAX = 24

ELLIPSIS = "…"
# Interactive messages need a body; used when a response has buttons but no text.
EMPTY_BODY = "👇"

CUSTOM_TEMPLATE_KEY = "whatsapp_template"
CUSTOM_RAW_KEY = "whatsapp"
CUSTOM_OPTIONS_KEY = "whatsapp_options"
# Marks a program notice (actions/notices.py); renders nothing, the channel reports it.
CUSTOM_NOTIFICATION_KEY = "notification"
KNOWN_CUSTOM_KEYS = frozenset(
    {CUSTOM_TEMPLATE_KEY, CUSTOM_RAW_KEY, CUSTOM_OPTIONS_KEY, CUSTOM_NOTIFICATION_KEY}
)

_ADDRESS_KEYS = ("messaging_product", "recipient_type", "to", "recipient")
# Business-scoped user ids: "ID.13491208655302741918", parent ids "ID.ENT.1181…".
_BSUID_RE = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")
_MEDIA_KINDS = ("image", "document", "video", "audio", "sticker")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

# Boundaries tried in order when text must be split.
_BOUNDARIES = (
    re.compile(r"\n[^\S\n]*\n\s*"),  # paragraph
    re.compile(r"\n\s*"),  # line
    re.compile(r"(?<=[.!?…])\s+"),  # sentence
    re.compile(r"\s+"),  # word
)


class RenderError(ValueError):
    """A response asks for something that cannot be rendered (e.g. a template without name)."""


@dataclass(frozen=True)
class RenderOptions:
    """Presentation choices; a response overrides them with ``custom.whatsapp_options``."""

    list_button: str = "Menu"
    header: str | None = None
    footer: str | None = None
    section_title: str | None = None
    more_title: str = "Lainnya / More"
    more_payload: str = "/menu"
    preview_url: bool = False

    def merged(self, overrides: Any) -> RenderOptions:
        if not isinstance(overrides, Mapping):
            return self
        names = {f.name for f in fields(self)}
        changes = {k: v for k, v in overrides.items() if k in names and v is not None}
        return replace(self, **changes) if changes else self


# --------------------------------------------------------------------------- public


def render_response(
    recipient_id: str, message: Mapping[str, Any], options: RenderOptions | None = None
) -> list[dict[str, Any]]:
    """Render one Rasa bot response to addressed Cloud API payloads, in send order."""
    return [address(recipient_id, obj) for obj in render_objects(message, options)]


def render_objects(
    message: Mapping[str, Any], options: RenderOptions | None = None
) -> list[dict[str, Any]]:
    """Like ``render_response`` but without addressing (``type`` + content only)."""
    options = options or RenderOptions()
    custom = message.get("custom")
    if isinstance(custom, Mapping):
        options = options.merged(custom.get(CUSTOM_OPTIONS_KEY))

    objects: list[dict[str, Any]] = []
    text = message.get("text") if isinstance(message.get("text"), str) else None
    buttons = message.get("buttons") or message.get("quick_replies")
    if buttons and is_list(buttons):
        objects += render_buttons(text or "", buttons, options)
    elif text and text.strip():
        objects += render_text(text, options)

    if isinstance(custom, Mapping):
        objects += render_custom(custom)
    if message.get("image"):
        objects.append(render_media(message["image"], default_kind="image"))
    if message.get("attachment"):
        objects.append(render_media(message["attachment"], default_kind="document"))
    elements = message.get("elements")
    if elements and is_list(elements):
        for element in elements:
            if isinstance(element, Mapping):
                objects += _render_element(element, options)
    return objects


def address(recipient_id: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``messaging_product`` and the recipient to a message object."""
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    payload.update(recipient_fields(recipient_id))
    payload.update({k: v for k, v in obj.items() if k not in _ADDRESS_KEYS})
    return payload


def recipient_fields(recipient_id: str) -> dict[str, str]:
    """Business-scoped user ids (``ID.123…``) go in ``recipient``, anything else in ``to``.

    Meta takes phone numbers in ``to`` and BSUIDs in ``recipient``; other ids (the
    sandbox's test users) keep using ``to``.
    """
    recipient_id = str(recipient_id).strip()
    if _BSUID_RE.match(recipient_id):
        return {"recipient": recipient_id}
    return {"to": recipient_id}


def mark_as_read_payload(message_id: str, typing_indicator: bool = False) -> dict[str, Any]:
    """Body that marks an inbound message read (blue ticks), optionally showing 'typing…'."""
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id,
    }
    if typing_indicator:
        payload["typing_indicator"] = {"type": "text"}
    return payload


def render_text(text: str, options: RenderOptions | None = None) -> list[dict[str, Any]]:
    preview = bool(options.preview_url) if options else False
    return [
        {"type": "text", "text": {"body": chunk, "preview_url": preview}}
        for chunk in split_text(text, TEXT_MAX)
    ]


def render_buttons(
    text: str, buttons: Sequence[Any], options: RenderOptions | None = None
) -> list[dict[str, Any]]:
    """Text with Rasa buttons → reply buttons (≤ 3) or a list (4 and more)."""
    options = options or RenderOptions()
    items = [b for b in buttons if isinstance(b, Mapping) and (b.get("title") or b.get("payload"))]
    if not items:
        return render_text(text, options) if text.strip() else []

    # The interactive body holds at most 1024 characters; longer text goes first
    # as plain text messages so nothing is lost.
    leading, body = _body_and_leading_text(text)
    objects = render_text(leading, options) if leading else []
    if len(items) <= REPLY_BUTTONS_MAX and not any(_section_of(b) for b in items):
        objects.append(_reply_buttons(body, items, options))
    else:
        objects.append(_list_message(body, items, options))
    return objects


def render_custom(custom: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``custom`` payloads: template, raw passthrough; options alone render nothing."""
    objects: list[dict[str, Any]] = []
    if CUSTOM_TEMPLATE_KEY in custom:
        objects.append(template_object(custom[CUSTOM_TEMPLATE_KEY]))
    raw = custom.get(CUSTOM_RAW_KEY)
    if raw is not None:
        raw_items = raw if is_list(raw) else [raw]
        for item in raw_items:
            if not isinstance(item, Mapping) or not item.get("type"):
                raise RenderError("custom.whatsapp must be a message object with a 'type'")
            objects.append(dict(item))
    return objects


def template_object(spec: Any) -> dict[str, Any]:
    """``{"name", "language", "components" | "parameters"}`` → a template message object.

    ``parameters`` is a shortcut for the body: a list gives positional ``{{1}}``
    parameters, a mapping gives named ones.
    """
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise RenderError("whatsapp_template needs a 'name'")
    language = spec.get("language") or "id"
    template: dict[str, Any] = {
        "name": spec["name"],
        "language": dict(language) if isinstance(language, Mapping) else {"code": str(language)},
    }
    components = spec.get("components")
    if components is None and spec.get("parameters") is not None:
        components = [{"type": "body", "parameters": _template_parameters(spec["parameters"])}]
    if components:
        if not is_list(components):
            raise RenderError("whatsapp_template.components must be a list")
        template["components"] = [dict(c) for c in components]
    return {"type": "template", "template": template}


def render_media(media: Any, default_kind: str = "image") -> dict[str, Any]:
    """An image/attachment given as URL, media id, or ``{"type", "url"|"id", ...}``."""
    if isinstance(media, Mapping):
        kind = str(media.get("type") or default_kind)
        if kind not in _MEDIA_KINDS:
            kind = default_kind
        content: dict[str, Any] = {}
        link = media.get("link") or media.get("url")
        media_id = media.get("id") or media.get("media_id")
        if link:
            content["link"] = str(link)
        elif media_id:
            content["id"] = str(media_id)
        else:
            raise RenderError("media needs a 'url'/'link' or an 'id'")
        caption = media.get("caption")
        if caption and kind in ("image", "document", "video"):
            content["caption"] = truncate(str(caption), CAPTION_MAX, collapse=False)
        filename = media.get("filename") or (_filename(str(link)) if link else None)
        if filename and kind == "document":
            content["filename"] = str(filename)
        return {"type": kind, kind: content}

    value = str(media).strip()
    if _is_url(value):
        kind = default_kind
        if kind == "document" and urlparse(value).path.lower().endswith(_IMAGE_SUFFIXES):
            kind = "image"
        content = {"link": value}
        filename = _filename(value)
        if kind == "document" and filename:
            content["filename"] = filename
        return {"type": kind, kind: content}
    return {"type": default_kind, default_kind: {"id": value}}


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Split text into chunks of at most ``limit`` characters at natural boundaries.

    Whitespace at a cut is dropped; every other character is kept, in order.
    """
    remaining = text.strip()
    chunks: list[str] = []
    while len(remaining) > limit:
        start, end = _find_cut(remaining, limit)
        chunks.append(remaining[:start].rstrip())
        remaining = remaining[end:].lstrip()
    if remaining:
        chunks.append(remaining)
    return chunks


def truncate(text: str, limit: int, collapse: bool = True) -> str:
    """Cut ``text`` to ``limit`` characters, ending with "…" when something was cut."""
    value = " ".join(text.split()) if collapse else text.strip()
    if len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + ELLIPSIS


# -------------------------------------------------------------------------- helpers


def _find_cut(text: str, limit: int) -> tuple[int, int]:
    # A boundary may start exactly at ``limit`` (the chunk is then text[:limit]).
    window = text[: limit + 1]
    for minimum in (limit // 2, 1):
        for pattern in _BOUNDARIES:
            last = None
            for match in pattern.finditer(window):
                if match.start() >= minimum:
                    last = match
            if last is not None:
                return last.start(), last.end()
    return limit, limit


def _body_and_leading_text(text: str) -> tuple[str, str]:
    text = text.strip()
    if not text:
        return "", EMPTY_BODY
    if len(text) <= BODY_MAX:
        return "", text
    pieces = split_text(text, BODY_MAX)
    return "\n".join(pieces[:-1]), pieces[-1]


def _button_id(button: Mapping[str, Any], limit: int) -> str:
    payload = button.get("payload")
    value = str(payload).strip() if payload not in (None, "") else str(button.get("title", ""))
    return value[:limit]


def _interactive_frame(body: str, options: RenderOptions) -> dict[str, Any]:
    interactive: dict[str, Any] = {}
    if options.header:
        interactive["header"] = {"type": "text", "text": truncate(options.header, HEADER_MAX)}
    interactive["body"] = {"text": body}
    if options.footer:
        interactive["footer"] = {"text": truncate(options.footer, FOOTER_MAX)}
    return interactive


def _reply_buttons(
    body: str, buttons: Sequence[Mapping[str, Any]], options: RenderOptions
) -> dict[str, Any]:
    interactive = {"type": "button", **_interactive_frame(body, options)}
    interactive["action"] = {
        "buttons": [
            {
                "type": "reply",
                "reply": {
                    "id": _button_id(button, BUTTON_ID_MAX),
                    "title": truncate(
                        str(button.get("title") or button.get("payload")), BUTTON_TITLE_MAX
                    ),
                },
            }
            for button in buttons
        ]
    }
    return {"type": "interactive", "interactive": interactive}


def _list_message(
    body: str, buttons: Sequence[Mapping[str, Any]], options: RenderOptions
) -> dict[str, Any]:
    if len(buttons) > LIST_ROWS_MAX:
        shown = list(buttons[: LIST_ROWS_MAX - 1])
        more: dict[str, Any] = {"title": options.more_title, "payload": options.more_payload}
        if any(_section_of(b) for b in shown):
            more["section"] = options.more_title
        shown.append(more)
    else:
        shown = list(buttons)
    interactive = {"type": "list", **_interactive_frame(body, options)}
    interactive["action"] = {
        "button": truncate(options.list_button, LIST_BUTTON_MAX) or "Menu",
        "sections": _list_sections(shown, options),
    }
    return {"type": "interactive", "interactive": interactive}


def _section_of(button: Mapping[str, Any]) -> str | None:
    section = button.get("section")
    if section is None:
        return None
    return " ".join(str(section).split()) or None


def _list_sections(
    buttons: Sequence[Mapping[str, Any]], options: RenderOptions
) -> list[dict[str, Any]]:
    """Consecutive rows with the same ``section`` → one section titled by it."""
    groups: list[tuple[str | None, list[Mapping[str, Any]]]] = []
    for button in buttons:
        section = _section_of(button)
        if groups and groups[-1][0] == section:
            groups[-1][1].append(button)
        else:
            groups.append((section, [button]))
    sections = []
    for title, rows in groups:
        if title is None:
            title = options.section_title or (options.more_title if len(groups) > 1 else None)
        section: dict[str, Any] = {"rows": [_list_row(b) for b in rows]}
        if title:
            section["title"] = truncate(title, SECTION_TITLE_MAX)
        sections.append(section)
    return sections


def _list_row(button: Mapping[str, Any]) -> dict[str, Any]:
    title_text = str(button.get("title") or button.get("payload"))
    description = button.get("description")
    if description:
        title, rest = truncate(title_text, ROW_TITLE_MAX), str(description)
    else:
        title, rest = _split_title(title_text, ROW_TITLE_MAX)
    row = {"id": _button_id(button, ROW_ID_MAX), "title": title}
    if rest:
        row["description"] = truncate(rest, ROW_DESCRIPTION_MAX)
    return row


def _split_title(title: str, limit: int) -> tuple[str, str | None]:
    """Cut a long title at a word boundary; the rest becomes the description."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title, None
    cut = title.rfind(" ", 0, limit + 1)
    if cut < limit // 2:
        cut = limit
    return title[:cut].rstrip(), title[cut:].strip() or None


def _render_element(element: Mapping[str, Any], options: RenderOptions) -> list[dict[str, Any]]:
    text = "\n".join(str(element[key]) for key in ("title", "subtitle") if element.get(key))
    buttons = element.get("buttons")
    if buttons and is_list(buttons):
        return render_buttons(text, buttons, options)
    return render_text(text, options) if text else []


def _template_parameters(parameters: Any) -> list[dict[str, Any]]:
    if isinstance(parameters, Mapping):
        return [
            {"type": "text", "parameter_name": str(name), "text": str(value)}
            for name, value in parameters.items()
        ]
    if is_list(parameters):
        return [{"type": "text", "text": str(value)} for value in parameters]
    raise RenderError("whatsapp_template.parameters must be a list or a mapping")


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _filename(url: str) -> str | None:
    name = unquote(urlparse(url).path.rsplit("/", 1)[-1])
    return name if "." in name else None

