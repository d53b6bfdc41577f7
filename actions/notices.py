"""Notices the program sends first (docs/notices.md): the backend's notifier triggers
``EXTERNAL_notify`` with the notices due for this partner; this action says them.

- What each notice says is a domain response, ``utter_notice_<kind>``, in both languages
  (designers edit them in ``bot/domain.yml``); the notice's params fill its variables.
  Notices that arrive together (claim approved + points credited + tier up) go out as
  ONE message.
- Exactly once from the partner's side: every message carries ``custom.notification.ids``
  (the tracker keeps it), so a notice triggered again after a crash is skipped.
- WhatsApp's 24-hour window: a free-form message may go only to a partner who wrote in the
  last 24 hours; otherwise the approved template the backend named is sent. The notifier
  says ``delivery: auto`` (this action looks at the conversation it already has) or
  ``template`` (WhatsApp answered 131047 before). The program's own triggers (notices,
  hand-back) are ``user`` events too, but not the partner writing: they do not count.
  (The support console's "window closed" warning applies the same rule in the backend,
  ``app/services/transcript.py``: the two projects share no code.)
- The connector reports what WhatsApp answered for these ids to the backend.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from typing import Any

import structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.formatting import format_date, format_points, normalise_language

logger = structlog.get_logger(__name__)

NOTICE_ENTITY = "notice"
NOTIFICATION_KEY = "notification"  # custom payload key (connectors/whatsapp_render.py)
TEMPLATE_KEY = "whatsapp_template"
_VARIABLE = re.compile(r"\{(\w+)\}")
SERVICE_WINDOW_SECONDS = 24 * 3600
EXTERNAL_PREFIX = "EXTERNAL: "  # Rasa's text for an intent triggered through its API
# Params shown as points ("1.250" / "1,250") or dates ("31 Des 2026" / "31 Dec 2026").
POINT_PARAMS = frozenset({"points", "balance"})
DATE_PARAMS = frozenset({"date"})


def parse_notice(raw: Any) -> dict[str, Any] | None:
    """The notifier's notice (a JSON string, or already a dict); None when unusable."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
        return None
    items = [i for i in raw["items"] if isinstance(i, dict) and isinstance(i.get("kind"), str)]
    return {**raw, "items": items} if items else None


def already_sent(events: Iterable[dict[str, Any]]) -> set[int]:
    """Notification ids of the bot messages in this conversation."""
    sent: set[int] = set()
    for event in events:
        if event.get("event") != "bot":
            continue
        custom = (event.get("data") or {}).get("custom") or {}
        ids = (custom.get(NOTIFICATION_KEY) or {}).get("ids") if isinstance(custom, dict) else None
        if isinstance(ids, list):
            sent.update(i for i in ids if isinstance(i, int))
    return sent


def is_partner_message(event: Any) -> bool:
    """A ``user`` event the partner wrote (not one the program triggered)."""
    if not isinstance(event, dict) or event.get("event") != "user":
        return False
    metadata = event.get("metadata")
    if isinstance(metadata, dict) and metadata.get("is_external"):
        return False
    return not str(event.get("text") or "").startswith(EXTERNAL_PREFIX)


def within_window(events: Iterable[dict[str, Any]], now: float) -> bool:
    """Whether the partner wrote in the last 24 hours (never wrote: no)."""
    latest = max(
        (e["timestamp"] for e in events
         if is_partner_message(e) and isinstance(e.get("timestamp"), int | float)),
        default=None,
    )  # fmt: skip
    return latest is not None and now - latest < SERVICE_WINDOW_SECONDS


def choose_delivery(requested: str | None, events: Iterable[dict[str, Any]], now: float) -> str:
    """What the notifier asked for (``session``/``template``), else, for ``auto``, by the
    window."""
    if requested in ("session", "template"):
        return requested
    return "session" if within_window(events, now) else "template"


def response_text(domain: dict[str, Any], name: str, language: str) -> str | None:
    """The text of response ``name`` for ``language``: the variation conditioned on
    ``language`` = en for English, the unconditioned (Indonesian) one otherwise."""
    variations = (domain.get("responses") or {}).get(name) or []
    default = None
    for variation in variations:
        conditions = variation.get("condition") or []
        if not conditions:
            default = default or variation.get("text")
            continue
        if any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            return variation.get("text")
    return default


def _value(name: str, params: dict[str, Any], language: str) -> str:
    """A param as the partner reads it; ``x_id``/``x_en`` pairs give ``x``."""
    value = params.get(name, params.get(f"{name}_{language}", params.get(f"{name}_id")))
    if value is None:
        return ""
    if name in POINT_PARAMS and isinstance(value, int | float):
        return format_points(int(value), language)
    if name in DATE_PARAMS and isinstance(value, str):
        try:
            return format_date(value, language)
        except ValueError:
            return value
    return str(value)


def render(domain: dict[str, Any], kind: str, params: dict[str, Any], language: str) -> str:
    """One notice's text in ``language`` (empty when the domain has no response for it)."""
    text = response_text(domain, f"utter_notice_{kind}", language)
    if not text:
        logger.error("notice.no_response", kind=kind)
        return ""
    return _VARIABLE.sub(lambda m: _value(m.group(1), params, language), text)


class ActionNotify(Action):
    def name(self) -> str:
        return "action_notify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        notice = parse_notice(next(tracker.get_latest_entity_values(NOTICE_ENTITY), None))
        if notice is None:
            logger.error("notice.unreadable")
            return []
        sent = already_sent(tracker.events)
        items = [i for i in notice["items"] if i.get("id") not in sent]
        if not items:
            logger.info("notice.already_sent", ids=notice.get("ids"))
            return []
        ids = [i["id"] for i in items if isinstance(i.get("id"), int)]
        delivery = choose_delivery(notice.get("delivery"), tracker.events, time.time())
        marker = {NOTIFICATION_KEY: {"ids": ids, "delivery": delivery}}
        language = normalise_language(tracker.get_slot("language"))
        if delivery == "template":
            # A template says one notice: the first goes now, the others are reported
            # back (``later``) and come again, each as its own template, at the partner's
            # next slots (WhatsApp allows about one message per 6 s to a person).
            items = items[:1]
            marker[NOTIFICATION_KEY] = {"ids": ids[:1], "delivery": delivery, "later": ids[1:]}
            template = items[0].get("template") or {}
            dispatcher.utter_message(json_message={
                TEMPLATE_KEY: {"name": template.get("name"), "language": language,
                               "parameters": list(template.get("parameters") or [])},
                **marker,
            })
        else:
            texts = [render(domain, i["kind"], i.get("params") or {}, language) for i in items]
            dispatcher.utter_message(text="\n\n".join(t for t in texts if t),
                                     json_message=marker)
        logger.info("notice.said", ids=ids, kinds=[i["kind"] for i in items],
                    delivery=delivery, language=language)
        return []
