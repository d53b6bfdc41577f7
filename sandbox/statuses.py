"""Delivery status webhooks (sent -> delivered -> read, or failed) for each bot send."""

from __future__ import annotations

import asyncio
import time

from sandbox.logs import log_event
from sandbox.payloads import status_entry, status_webhook
from sandbox.state import SandboxState
from sandbox.store import Sent
from sandbox.webhook import serialize


async def deliver_statuses(
    state: SandboxState,
    record: Sent,
    failure_code: int | None = None,
    failure_details: str | None = None,
) -> None:
    """Post the status webhooks of one sent message in order, one delay apart."""
    settings, store = state.settings, state.store
    assert state.poster is not None
    steps = ("failed",) if failure_code is not None else ("sent", "delivered", "read")
    category = "utility" if record.type == "template" else "service"
    for status in steps:
        await asyncio.sleep(max(settings.status_delay_ms, 0) / 1000)
        now = time.time()
        entry = status_entry(
            record.id,
            status,
            record.to,
            int(now),
            conversation=store.conversation(record.to, now) if status != "failed" else None,
            category=category,
            error_code=failure_code,
            error_details=failure_details,
        )
        delivery = await state.poster.post(
            settings.webhook_url, serialize(status_webhook(settings, entry)), settings.app_secret
        )
        summary = {"status": status, "timestamp": entry["timestamp"]}
        if "errors" in entry:
            summary["errors"] = entry["errors"]
        summary["webhook_status"] = delivery.status
        store.add_status(record.id, summary)
        log_event(
            "status.posted",
            id=record.id,
            to=record.to,
            status=status,
            code=failure_code,
            webhook_status=delivery.status,
            webhook_ms=delivery.ms,
        )
