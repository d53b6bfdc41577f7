"""Structured logging helpers shared by the actions."""

from __future__ import annotations

import json
import logging
from typing import Any

from connectors.masking import mask_id

__all__ = ["log_event", "mask_id"]


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log one JSON line: ``{"event": ..., **fields}``."""
    logger.log(level, json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))
