"""Tells the loyalty backend what WhatsApp said about the program's notices.

A notice is a bot message whose ``custom`` carries ``notification: {"ids": [...]}``
(``actions/notices.py``). After sending it, the channel reports the outcome (the wamid,
or Meta's error code) to ``POST /api/v1/notifications/sends``, so the backend can retry
a throttled notice, switch to a template after 131047, or record a permanent failure.
Status webhooks (sent/delivered/read/failed) are forwarded in small batches to
``POST /api/v1/notifications/statuses``; the backend matches them by wamid and ignores
the rest. Both use ``WHATSAPP_REPORT_TOKEN`` (scope ``notifications:report`` only).

Without ``WHATSAPP_REPORT_TOKEN`` nothing is reported (said once in the log). A report
that cannot be delivered is retried a few times, then logged: the notice itself has been
sent, and the backend's row stays ``handed`` for support to see.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import structlog

from connectors.graph_client import SendResult, SharedSession, shared_session
from connectors.whatsapp_payloads import StatusUpdate

logger = structlog.get_logger(__name__)

NOTIFICATION_KEY = "notification"
DELIVERIES = frozenset({"session", "template"})
SENDS_PATH = "/api/v1/notifications/sends"
STATUSES_PATH = "/api/v1/notifications/statuses"
ATTEMPTS = 3
TIMEOUT_SECONDS = 3.0
STATUS_BATCH = 200
STATUS_FLUSH_SECONDS = 0.5
MAX_PENDING_STATUSES = 10_000


def notification_ids(message: Mapping[str, Any]) -> list[int]:
    """The notification ids a bot response carries (empty for ordinary messages)."""
    custom = message.get("custom")
    if not isinstance(custom, Mapping):
        return []
    marker = custom.get(NOTIFICATION_KEY)
    ids = marker.get("ids") if isinstance(marker, Mapping) else None
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def _marker(message: Mapping[str, Any]) -> Mapping[str, Any]:
    custom = message.get("custom")
    marker = custom.get(NOTIFICATION_KEY) if isinstance(custom, Mapping) else None
    return marker if isinstance(marker, Mapping) else {}


def notification_delivery(message: Mapping[str, Any]) -> str | None:
    """How the bot sent a notice: ``session`` (free-form) or ``template``."""
    delivery = _marker(message).get("delivery")
    return delivery if delivery in DELIVERIES else None


def notification_later(message: Mapping[str, Any]) -> list[int]:
    """Notices of the group this message did not carry (a template says one)."""
    later = _marker(message).get("later")
    return [i for i in later if isinstance(i, int)] if isinstance(later, list) else []


def send_report(
    ids: Sequence[int], results: Sequence[SendResult], delivery: str | None = None,
    later: Sequence[int] = (),
) -> dict[str, Any]:
    """The body for ``/notifications/sends``: the first failure decides, else the wamid of
    the first payload (a notice is one message)."""
    failed = next((r for r in results if not r.ok), None)
    if not results:
        report = {"ids": list(ids), "ok": False, "wamid": None, "error_code": None,
                  "error": "nothing was rendered"}
    elif failed is not None:
        report = {"ids": list(ids), "ok": False, "wamid": None,
                  "error_code": failed.error_code, "error": failed.reason[:500]}
    else:
        report = {"ids": list(ids), "ok": True, "wamid": results[0].message_id,
                  "error_code": None, "error": None}
    if delivery is not None:
        report["delivery"] = delivery
    if later:
        report["later"] = list(later)
    return report


def status_item(status: StatusUpdate) -> dict[str, Any]:
    return {
        "wamid": status.message_id,
        "status": status.status,
        "timestamp": status.timestamp,
        "error_code": status.errors[0].code if status.errors else None,
    }


class NoticeReporter:
    """Posts send outcomes and status batches to the backend."""

    def __init__(
        self, base_url: str | None, token: str | None, session: SharedSession | None = None
    ) -> None:
        self.base_url = (base_url or "").rstrip("/")
        self.token = token or ""
        self._session = session or shared_session
        self._statuses: list[dict[str, Any]] = []
        self._flush: asyncio.Task[None] | None = None
        self._warned = False

    @classmethod
    def from_env(cls) -> NoticeReporter:
        return cls(os.environ.get("BACKEND_URL", "http://127.0.0.1:8000"),
                   os.environ.get("WHATSAPP_REPORT_TOKEN"))

    @property
    def enabled(self) -> bool:
        if not self.token and not self._warned:
            self._warned = True
            logger.warning("notices.report_disabled", reason="WHATSAPP_REPORT_TOKEN is not set")
        return bool(self.token and self.base_url)

    @property
    def pending_statuses(self) -> int:
        """Statuses waiting for the next batch."""
        return len(self._statuses)

    async def report_send(self, message: Mapping[str, Any], results: Sequence[SendResult]) -> None:
        """Report the send of ``message`` when it is a notice (its ids, how it went, and
        the group's notices it did not carry)."""
        ids = notification_ids(message)
        if ids and self.enabled:
            body = send_report(
                ids, results, notification_delivery(message), notification_later(message)
            )
            await self._post(SENDS_PATH, body)

    def record_status(self, status: StatusUpdate) -> None:
        """Queue a status for the next batch (called from the webhook, without waiting)."""
        if not self.enabled or not status.message_id:
            return
        if len(self._statuses) >= MAX_PENDING_STATUSES:
            logger.warning("notices.statuses_dropped", pending=len(self._statuses))
            return
        self._statuses.append(status_item(status))
        if self._flush is None or self._flush.done():
            try:
                self._flush = asyncio.get_running_loop().create_task(self._flush_later())
            except RuntimeError:  # no loop (a synchronous caller): sent with the next one
                pass

    async def _flush_later(self) -> None:
        await asyncio.sleep(STATUS_FLUSH_SECONDS)
        while self._statuses:
            batch, self._statuses = self._statuses[:STATUS_BATCH], self._statuses[STATUS_BATCH:]
            await self._post(STATUSES_PATH, {"statuses": batch})

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        for attempt in range(1, ATTEMPTS + 1):
            try:
                session = await self._session.get()
                async with session.post(
                    self.base_url + path, json=body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                ) as response:
                    if response.status < 300:
                        return
                    if 400 <= response.status < 500:  # refused: retrying will not help
                        logger.error("notices.report_refused", path=path,
                                     status=response.status, detail=(await response.text())[:200])
                        return
                    reason = f"HTTP {response.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                reason = type(exc).__name__
            if attempt < ATTEMPTS:
                await asyncio.sleep(0.2 * 2**attempt)
        logger.error("notices.report_failed", path=path, reason=reason)


default_notice_reporter = NoticeReporter.from_env()
