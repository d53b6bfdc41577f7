"""Structured logging helpers shared by the actions."""

from __future__ import annotations

import json
import logging
from typing import Any


def mask_id(sender_id: str | None) -> str:
    """Mask a WhatsApp id (or any sender id) for logs: ``6281200000001`` → ``6281****0001``."""
    if not sender_id:
        return "-"
    if len(sender_id) <= 8:
        return sender_id[:2] + "****"
    return f"{sender_id[:4]}****{sender_id[-4:]}"


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log one JSON line: ``{"event": ..., **fields}``."""
    logger.log(level, json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))
