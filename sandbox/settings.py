"""Sandbox configuration from environment variables (demo defaults match .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:5005/webhooks/whatsapp/webhook"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8090"

# setting name -> environment variable
ENV_NAMES = {
    "app_secret": "WHATSAPP_APP_SECRET",
    "access_token": "WHATSAPP_ACCESS_TOKEN",
    "verify_token": "WHATSAPP_VERIFY_TOKEN",
    "phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
    "api_version": "WHATSAPP_API_VERSION",
    "webhook_url": "SANDBOX_WEBHOOK_URL",
    "public_url": "SANDBOX_PUBLIC_URL",
    "display_phone_number": "SANDBOX_DISPLAY_PHONE_NUMBER",
    "waba_id": "SANDBOX_WABA_ID",
    "statuses": "SANDBOX_STATUSES",
    "status_delay_ms": "SANDBOX_STATUS_DELAY_MS",
    "enforce_24h": "SANDBOX_ENFORCE_24H",
    "webhook_timeout_s": "SANDBOX_WEBHOOK_TIMEOUT_S",
}


@dataclass
class Settings:
    """Everything the sandbox needs. Mutable: ``PATCH /sandbox/config`` edits a few fields."""

    app_secret: str = "sandbox-app-secret"
    access_token: str = "sandbox-access-token"
    verify_token: str = "sandbox-verify-token"
    phone_number_id: str = "100000000000001"
    api_version: str = "v21.0"
    webhook_url: str = DEFAULT_WEBHOOK_URL
    public_url: str = DEFAULT_PUBLIC_URL
    display_phone_number: str = "6281100000000"
    waba_id: str = "100000000000000"
    # Post sent/delivered/read status webhooks after each send.
    statuses: bool = True
    # Pause before each status webhook (sent, then delivered, then read).
    status_delay_ms: int = 150
    # Fail free-form sends (not templates) to partners silent for 24 h, like Meta (131047).
    enforce_24h: bool = False
    webhook_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Read settings from ``env`` (default ``os.environ``); empty values count as unset."""
        env = os.environ if env is None else env
        values: dict = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in ENV_NAMES.items():
            raw = env.get(var, "").strip()
            if raw:
                values[name] = _convert(raw, types[name], var)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.public_url = settings.public_url.rstrip("/")
        return settings


def _convert(raw: str, type_name: str, var: str):
    if type_name == "bool":
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{var} must be a boolean (1/0, true/false), got {raw!r}")
    if type_name == "int":
        return int(raw)
    if type_name == "float":
        return float(raw)
    return raw
