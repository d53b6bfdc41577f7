"""Configuration of the WhatsApp channel: ``credentials.yml`` values, else environment.

A credentials value may be missing, empty, or a ``${VAR}`` reference that was left
unexpanded; each falls back to the connector's environment variable, then to the
default. Secrets are never given defaults.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from rasa.shared.exceptions import RasaException

from connectors.dedup import DEFAULT_KEY_PREFIX, DEFAULT_TTL_SECONDS

# credentials key → environment variable
ENV_VARS: Mapping[str, str] = {
    "access_token": "WHATSAPP_ACCESS_TOKEN",
    "app_secret": "WHATSAPP_APP_SECRET",
    "verify_token": "WHATSAPP_VERIFY_TOKEN",
    "phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
    "api_base_url": "WHATSAPP_API_BASE_URL",
    "api_version": "WHATSAPP_API_VERSION",
    "dedup_redis_url": "WHATSAPP_DEDUP_REDIS_URL",
    "turns_in_thread": "WHATSAPP_TURNS_IN_THREAD",
}
REQUIRED = ("access_token", "app_secret", "verify_token", "phone_number_id")


@dataclass(frozen=True)
class WhatsAppConfig:
    access_token: str
    app_secret: str
    verify_token: str
    phone_number_id: str
    api_base_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    dedup_redis_url: str | None = None
    dedup_ttl_seconds: int = DEFAULT_TTL_SECONDS
    dedup_key_prefix: str = DEFAULT_KEY_PREFIX
    mark_as_read: bool = True
    typing_indicator: bool = False
    send_timeout_seconds: float = 10.0
    retry_attempts: int = 5
    retry_base_delay: float = 0.2
    retry_max_delay: float = 5.0
    max_pending: int = 10_000
    max_concurrent_turns: int = 64
    # Run Rasa turns on their own loop so they never delay webhook acknowledgements
    # (see connectors.turn_runner).
    turns_in_thread: bool = True
    turn_timeout_seconds: float | None = 300.0
    shutdown_timeout_seconds: float = 10.0

    @classmethod
    def from_credentials(
        cls,
        credentials: Mapping[str, Any] | None,
        environ: Mapping[str, str] | None = None,
    ) -> WhatsAppConfig:
        """Build the config; raises ``RasaException`` naming what is missing."""
        environ = os.environ if environ is None else environ
        credentials = credentials or {}
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = _resolve(credentials.get(field.name), environ)
            if raw is None and field.name in ENV_VARS:
                raw = _resolve(environ.get(ENV_VARS[field.name]), environ)
            if raw is None:
                continue
            values[field.name] = _coerce(field.name, field.type, raw)
        missing = [name for name in REQUIRED if not values.get(name)]
        if missing:
            names = ", ".join(f"{n} ({ENV_VARS[n]})" for n in missing)
            raise RasaException(
                f"The WhatsApp channel needs {names}: set them in credentials.yml "
                f"or in the environment."
            )
        return cls(**values)


def _resolve(value: Any, environ: Mapping[str, str]) -> Any:
    """None for missing/empty values and for ``${VAR}`` references that do not resolve."""
    if value is None:
        return None
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "$" in text:
        text = string.Template(text).safe_substitute(environ)
        if "$" in text:
            return None
    return text or None


def _coerce(name: str, annotation: Any, value: Any) -> Any:
    kind = str(annotation)
    try:
        if kind.startswith("bool"):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
    except (TypeError, ValueError) as exc:
        raise RasaException(f"WhatsApp channel: invalid value for {name}: {value!r}") from exc
    return str(value)
