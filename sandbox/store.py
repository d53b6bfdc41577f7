"""In-memory record of everything that crossed the sandbox.

Appends are O(1) and every list is also indexed per WhatsApp id, so polling one
partner's thread stays cheap under benchmark load. All records share one sequence
counter, which gives a total order across directions (``since=<seq>`` polling).
Methods never await, so within the event loop each call is atomic; the lock only
matters for callers on other threads (tests, tools).
"""

from __future__ import annotations

import base64
import itertools
import secrets
import threading
import time
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sandbox.media import Media

CONVERSATION_SECONDS = 24 * 3600


def now_iso(ts: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def parse_since(value: str | None) -> int | float | None:
    """``since`` is a sequence number (int) or an ISO 8601 time (returned as epoch float)."""
    if value is None or value == "":
        return None
    if value.isdigit():
        return int(value)
    text = value.strip().replace(" ", "+")  # a '+' in an unencoded query string becomes ' '
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)  # ValueError for the caller to turn into a 400
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return float(moment.timestamp())


def new_wamid(wa_id: str, inbound: bool = False) -> str:
    """A unique id shaped like Meta's (base64 with the wa_id inside; may contain + / =)."""
    wa = wa_id.encode()[:200]
    marker = b"\x15\x02\x00\x12\x18\x14" if inbound else b"\x15\x02\x00\x11\x18\x12"
    unique = secrets.token_hex(10 if inbound else 9).upper().encode()
    raw = b"\x1c\x18" + bytes([len(wa)]) + wa + marker + unique + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


@dataclass(slots=True)
class Sent:
    """A message the bot sent through ``POST /{version}/{phone_number_id}/messages``."""

    seq: int
    id: str
    to: str
    type: str
    payload: dict
    ts: float
    received_at: str
    statuses: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "seq": self.seq,
            "id": self.id,
            "to": self.to,
            "type": self.type,
            "received_at": self.received_at,
            "payload": self.payload,
            "status": self.statuses[-1]["status"] if self.statuses else None,
            "statuses": list(self.statuses),
        }


@dataclass(slots=True)
class Inbound:
    """A message the simulated partner sent to the bot (a webhook the sandbox posted)."""

    seq: int
    id: str
    wa_id: str
    type: str
    message: dict
    profile_name: str
    ts: float
    received_at: str
    webhook_status: int | None = None
    webhook_ms: float | None = None
    read_at: str | None = None

    def to_json(self) -> dict:
        return {
            "seq": self.seq,
            "id": self.id,
            "from": self.wa_id,
            "type": self.type,
            "received_at": self.received_at,
            "profile_name": self.profile_name,
            "message": self.message,
            "webhook_status": self.webhook_status,
            "webhook_ms": self.webhook_ms,
            "read": self.read_at is not None,
            "read_at": self.read_at,
        }


@dataclass(slots=True)
class Receipt:
    """A mark-as-read (``{"status": "read", "message_id"}``) the bot sent."""

    seq: int
    message_id: str
    wa_id: str | None
    payload: dict
    ts: float
    received_at: str

    def to_json(self) -> dict:
        return {
            "seq": self.seq,
            "message_id": self.message_id,
            "wa_id": self.wa_id,
            "received_at": self.received_at,
            "typing_indicator": bool(self.payload.get("typing_indicator")),
            "payload": self.payload,
        }


@dataclass(slots=True)
class Fault:
    """An injected failure for the next ``remaining`` matching Graph calls."""

    id: int
    remaining: int
    scope: str = "send"  # send | read | media | any
    status: int | None = None  # answer with this HTTP status and a Graph error
    failed: bool = False  # accept the send, then post a `failed` status webhook
    code: int | None = None
    message: str | None = None
    details: str | None = None
    delay_ms: int = 0

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "status": "failed" if self.failed else self.status,
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "delay_ms": self.delay_ms,
            "remaining": self.remaining,
            "scope": self.scope,
        }

    def matches(self, scope: str) -> bool:
        return self.scope in (scope, "any")


def _since(records: list, since: int | float | None) -> list:
    if since is None:
        return list(records)
    if isinstance(since, int):
        return records[bisect_right(records, since, key=lambda r: r.seq) :]
    return records[bisect_right(records, since, key=lambda r: r.ts) :]


class Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._fault_ids = itertools.count(1)
        self._reset()
        self._media: dict[str, Media] = {}
        self._media_by_key: dict[str, Media] = {}
        self._faults: list[Fault] = []

    def _reset(self) -> None:
        self._sent: list[Sent] = []
        self._sent_by_to: dict[str, list[Sent]] = {}
        self._sent_by_id: dict[str, Sent] = {}
        self._inbound: list[Inbound] = []
        self._inbound_by_wa: dict[str, list[Inbound]] = {}
        self._inbound_by_id: dict[str, Inbound] = {}
        self._receipts: list[Receipt] = []
        self._receipts_by_wa: dict[str, list[Receipt]] = {}
        self._seen: dict[str, None] = {}  # insertion-ordered set of ids seen in traffic
        self._last_inbound_ts: dict[str, float] = {}
        self._conversations: dict[str, tuple[str, float]] = {}

    # --- outbound (bot -> partner) ------------------------------------------------
    def add_sent(self, to: str, msg_type: str, payload: dict) -> Sent:
        ts = time.time()
        with self._lock:
            record = Sent(next(self._seq), new_wamid(to), to, msg_type, payload, ts, now_iso(ts))
            self._sent.append(record)
            self._sent_by_to.setdefault(to, []).append(record)
            self._sent_by_id[record.id] = record
            self._seen.setdefault(to, None)
        return record

    def add_status(self, message_id: str, entry: dict) -> None:
        with self._lock:
            record = self._sent_by_id.get(message_id)
            if record is not None:
                record.statuses.append(entry)

    def get_sent(self, message_id: str) -> Sent | None:
        return self._sent_by_id.get(message_id)

    def sent(self, to: str | None = None, since: int | float | None = None) -> list[Sent]:
        with self._lock:
            records = self._sent if to is None else self._sent_by_to.get(to, [])
            return _since(records, since)

    def find_interactive(self, to: str, reply_id: str, limit: int = 50) -> Sent | None:
        """The latest interactive/template message to ``to`` offering ``reply_id``."""
        with self._lock:
            recent = self._sent_by_to.get(to, [])[-limit:]
        for record in reversed(recent):
            if reply_id in _offered_ids(record.payload):
                return record
        return None

    def conversation(self, to: str, ts: float) -> tuple[str, float]:
        """(id, expiration) of ``to``'s open 24 h conversation, opening one if needed."""
        with self._lock:
            current = self._conversations.get(to)
            if current is None or current[1] <= ts:
                current = (secrets.token_hex(16), ts + CONVERSATION_SECONDS)
                self._conversations[to] = current
            return current

    # --- inbound (partner -> bot) -------------------------------------------------
    def add_inbound(
        self, wa_id: str, message_id: str, msg_type: str, message: dict, profile_name: str
    ) -> Inbound:
        ts = time.time()
        with self._lock:
            record = Inbound(
                next(self._seq), message_id, wa_id, msg_type, message, profile_name, ts, now_iso(ts)
            )
            self._inbound.append(record)
            self._inbound_by_wa.setdefault(wa_id, []).append(record)
            self._inbound_by_id[message_id] = record
            self._seen.setdefault(wa_id, None)
            self._last_inbound_ts[wa_id] = ts
        return record

    def inbound(self, wa_id: str | None = None, since: int | float | None = None) -> list[Inbound]:
        with self._lock:
            records = self._inbound if wa_id is None else self._inbound_by_wa.get(wa_id, [])
            return _since(records, since)

    def last_inbound_ts(self, wa_id: str) -> float | None:
        return self._last_inbound_ts.get(wa_id)

    # --- read receipts ------------------------------------------------------------
    def add_receipt(self, payload: dict) -> Receipt:
        ts = time.time()
        message_id = payload["message_id"]
        with self._lock:
            inbound = self._inbound_by_id.get(message_id)
            wa_id = inbound.wa_id if inbound else None
            record = Receipt(next(self._seq), message_id, wa_id, payload, ts, now_iso(ts))
            self._receipts.append(record)
            if wa_id is not None:
                self._receipts_by_wa.setdefault(wa_id, []).append(record)
                # WhatsApp marks the message and every earlier one in the chat as read.
                for earlier in reversed(self._inbound_by_wa[wa_id]):
                    if earlier.seq > inbound.seq:
                        continue
                    if earlier.read_at is not None:
                        break
                    earlier.read_at = record.received_at
        return record

    def receipts(self, wa_id: str | None = None, since: int | float | None = None) -> list[Receipt]:
        with self._lock:
            records = self._receipts if wa_id is None else self._receipts_by_wa.get(wa_id, [])
            return _since(records, since)

    # --- housekeeping -------------------------------------------------------------
    def seen_ids(self) -> list[str]:
        with self._lock:
            return list(self._seen)

    def last_seq(self) -> int:
        with self._lock:
            tails = [r[-1].seq for r in (self._sent, self._inbound, self._receipts) if r]
            return max(tails, default=0)

    def clear(self, wa_id: str | None = None) -> None:
        """Forget messages, inbound messages and read receipts (of one id, or all)."""
        with self._lock:
            if wa_id is None:
                self._reset()
                return
            sent = [r for r in self._sent if r.to != wa_id]
            inbound = [r for r in self._inbound if r.wa_id != wa_id]
            receipts = [r for r in self._receipts if r.wa_id != wa_id]
            self._reset()
            self._sent = sent
            self._inbound = inbound
            self._receipts = receipts
            for r in sent:
                self._sent_by_to.setdefault(r.to, []).append(r)
                self._sent_by_id[r.id] = r
                self._seen.setdefault(r.to, None)
            for r in inbound:
                self._inbound_by_wa.setdefault(r.wa_id, []).append(r)
                self._inbound_by_id[r.id] = r
                self._seen.setdefault(r.wa_id, None)
                self._last_inbound_ts[r.wa_id] = r.ts
            for r in receipts:
                if r.wa_id is not None:
                    self._receipts_by_wa.setdefault(r.wa_id, []).append(r)

    # --- media --------------------------------------------------------------------
    def add_media(self, data: bytes, mime_type: str, filename: str | None = None) -> Media:
        with self._lock:
            media_id = str(secrets.randbelow(9 * 10**15) + 10**15)
            while media_id in self._media:
                media_id = str(secrets.randbelow(9 * 10**15) + 10**15)
            media = Media(media_id, data, mime_type, filename)
            self._media[media_id] = media
            self._media_by_key[media.download_key] = media
        return media

    def get_media(self, media_id: str) -> Media | None:
        return self._media.get(media_id)

    def media_by_key(self, key: str) -> Media | None:
        return self._media_by_key.get(key)

    def delete_media(self, media_id: str) -> bool:
        with self._lock:
            media = self._media.pop(media_id, None)
            if media is not None:
                self._media_by_key.pop(media.download_key, None)
            return media is not None

    # --- faults -------------------------------------------------------------------
    def add_fault(self, **kwargs) -> Fault:
        with self._lock:
            fault = Fault(id=next(self._fault_ids), **kwargs)
            self._faults.append(fault)
        return fault

    def take_fault(self, scope: str) -> Fault | None:
        """Consume one use of the oldest fault that applies to ``scope``."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(scope):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[i]
                    return fault
        return None

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()


def _offered_ids(payload: dict) -> Iterable[str]:
    """Reply ids a partner can tap on this message (buttons, list rows, template quick replies)."""
    interactive = payload.get("interactive")
    if isinstance(interactive, dict) and isinstance(interactive.get("action"), dict):
        action = interactive["action"]
        for button in action.get("buttons") or []:
            if isinstance(button, dict) and isinstance(button.get("reply"), dict):
                yield str(button["reply"].get("id"))
        for section in action.get("sections") or []:
            for row in (section.get("rows") or []) if isinstance(section, dict) else []:
                if isinstance(row, dict):
                    yield str(row.get("id"))
    template = payload.get("template")
    if isinstance(template, dict) and isinstance(template.get("components"), list):
        for component in template["components"]:
            if isinstance(component, dict) and component.get("type") == "button":
                for parameter in component.get("parameters") or []:
                    if isinstance(parameter, dict) and parameter.get("type") == "payload":
                        yield str(parameter.get("payload"))
