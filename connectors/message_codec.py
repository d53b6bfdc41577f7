"""How an accepted ``InboundMessage`` is written to the durable inbound queue and read back.

Pure functions: a message becomes a compact JSON text (SQLite row, Redis stream field)
and that text becomes the equal message again. Keys the reader does not know are
dropped, so a journal written by a newer connector still loads in an older one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from connectors.whatsapp_payloads import (
    ErrorDetail,
    InboundMessage,
    Location,
    Media,
    MessageContext,
)

VERSION = 1
_NESTED = {"media": Media, "location": Location, "context": MessageContext}


class CodecError(ValueError):
    """A stored message cannot be read back (corrupt or from an unknown version)."""


def encode_message(message: InboundMessage) -> str:
    data = {key: value for key, value in asdict(message).items() if value not in (None, ())}
    data["v"] = VERSION
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode_message(text: str | bytes) -> InboundMessage:
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise CodecError("not a stored message of version 1")
    try:
        values = _known(InboundMessage, data)
        for key, kind in _NESTED.items():
            if isinstance(values.get(key), dict):
                values[key] = kind(**_known(kind, values[key]))
        values["errors"] = tuple(
            ErrorDetail(**_known(ErrorDetail, item)) for item in values.get("errors") or ()
        )
        return InboundMessage(**values)
    except TypeError as exc:  # a required field is missing
        raise CodecError(str(exc)) from exc


def _known(kind: Any, data: dict[str, Any]) -> dict[str, Any]:
    names = {field.name for field in fields(kind)}
    return {key: value for key, value in data.items() if key in names}
