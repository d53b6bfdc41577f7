"""The one place that decides how a user identifier appears in logs."""

from __future__ import annotations


def mask_id(value: object) -> str:
    """Mask a WhatsApp id (phone number or user id) for logs.

    Keeps enough to tell ids apart while reading logs, never the whole id:
    ``mask_id("6281200000001") == "6281****0001"``.
    """
    if value is None:
        return "-"
    text = str(value)
    if len(text) > 8:
        return f"{text[:4]}****{text[-4:]}"
    if len(text) > 2:
        return f"{text[:1]}****{text[-1:]}"
    return "****"
