"""Cloud API webhook bodies, built exactly as Meta sends them. Pure functions."""

from __future__ import annotations

from sandbox.errors import status_error
from sandbox.settings import Settings


def envelope(settings: Settings, value: dict) -> dict:
    """``{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": ...}]}]}``."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": settings.waba_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": settings.display_phone_number,
                                "phone_number_id": settings.phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def message_webhook(
    settings: Settings, wa_id: str, profile_name: str, message: dict, user_id: str | None = None
) -> dict:
    contact: dict = {"profile": {"name": profile_name}, "wa_id": wa_id}
    if user_id:
        contact["user_id"] = user_id
    return envelope(settings, {"contacts": [contact], "messages": [message]})


def status_entry(
    message_id: str,
    status: str,
    recipient_id: str,
    timestamp: int,
    *,
    conversation: tuple[str, float] | None = None,
    category: str = "service",
    error_code: int | None = None,
    error_details: str | None = None,
) -> dict:
    """One ``statuses[]`` item: sent/delivered carry conversation and pricing, failed errors."""
    entry: dict = {
        "id": message_id,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": recipient_id,
    }
    if status == "failed":
        entry["errors"] = [status_error(error_code or 131000, error_details)]
        return entry
    if conversation is not None and status in ("sent", "delivered"):
        conv: dict = {"id": conversation[0]}
        if status == "sent":
            conv["expiration_timestamp"] = str(int(conversation[1]))
        conv["origin"] = {"type": category}
        entry["conversation"] = conv
        entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": category}
    return entry


def status_webhook(settings: Settings, entry: dict) -> dict:
    return envelope(settings, {"statuses": [entry]})
