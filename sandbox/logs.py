"""Structured log lines (``event key=value ...``) with WhatsApp ids masked."""

from __future__ import annotations

import logging
import re
from typing import Any

logger = logging.getLogger("sandbox")

# Phone-like digit runs (8+ digits) in free text such as paths and query strings.
_DIGITS = re.compile(r"\d{8,}")


def mask_wa_id(wa_id: Any) -> str:
    """6281200000001 -> 6281****0001; short or odd ids keep only their first two chars."""
    text = "" if wa_id is None else str(wa_id)
    if len(text) >= 10:
        return f"{text[:4]}****{text[-4:]}"
    if len(text) > 2:
        return f"{text[:2]}****"
    return "****"


def mask_text(text: str) -> str:
    """Mask every phone-like digit run inside a string (paths, query strings)."""
    return _DIGITS.sub(lambda m: mask_wa_id(m.group(0)), text)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        value = f"{value:.1f}"
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured line. Fields named like WhatsApp ids are masked here."""
    if not logger.isEnabledFor(level):
        return
    parts = [f"event={event}"]
    for key, value in fields.items():
        if value is None:
            continue
        if key in {"to", "from_", "wa_id", "recipient"}:
            value = mask_wa_id(value)
            key = key.rstrip("_")
        parts.append(f"{key}={_fmt(value)}")
    logger.log(level, " ".join(parts))


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
