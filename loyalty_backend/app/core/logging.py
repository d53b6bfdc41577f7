"""Structured logging (JSON lines or key=value) with WhatsApp ids masked.

A partner's WhatsApp id is personal data: log it only through ``mask_wa_id``.
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of msg
}
_BY_WA_PATH = re.compile(r"(/by-wa/)([^/?#]+)")


def mask_wa_id(wa_id: str | None) -> str:
    """``6281200000001`` -> ``6281****0001``; short ids keep less."""
    if not wa_id:
        return ""
    if len(wa_id) <= 4:
        return "****"
    if len(wa_id) <= 8:
        return f"{wa_id[:1]}****{wa_id[-2:]}"
    return f"{wa_id[:4]}****{wa_id[-4:]}"


def mask_path(path: str) -> str:
    """Mask the wa_id inside an API path such as ``/api/v1/partners/by-wa/<wa_id>/balance``."""
    return _BY_WA_PATH.sub(lambda m: m.group(1) + mask_wa_id(m.group(2)), path)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RESERVED}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(_fields(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={datetime.fromtimestamp(record.created, UTC).isoformat(timespec='milliseconds')}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={json.dumps(record.getMessage(), ensure_ascii=False)}",
        ]
        for key, value in _fields(record).items():
            text = value if isinstance(value, int | float) else json.dumps(str(value))
            parts.append(f"{key}={text}")
        if record.exc_info:
            parts.append(f"exc={json.dumps(self.formatException(record.exc_info))}")
        return " ".join(parts)


class MaskAccessLogFilter(logging.Filter):
    """Uvicorn's access log prints the request path, which carries the wa_id: mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], mask_path(args[2]), *args[3:])
        return True


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(KeyValueFormatter() if fmt == "kv" else JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    # app.main logs every request itself (with its duration and the wa_id masked).
    access.setLevel(logging.WARNING)
    if not any(isinstance(f, MaskAccessLogFilter) for f in access.filters):
        access.addFilter(MaskAccessLogFilter())
