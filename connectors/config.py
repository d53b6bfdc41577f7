"""Configuration of the WhatsApp channel: ``credentials.yml`` values, else environment.

Every key can be given in ``credentials.yml`` under the channel, or as the environment
variable ``WHATSAPP_<KEY IN UPPER CASE>`` (``queue_path`` → ``WHATSAPP_QUEUE_PATH``). A
credentials value may be missing, empty, or a ``${VAR}`` reference that was left
unexpanded; each falls back to the environment variable, then to the default.

Secrets have no defaults and follow ``mitra_config.secrets`` (missing or blank stops
Rasa; in production demo or short values do too). Booleans are strict: ``"flase"`` is
an error, never ``False``.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import structlog
from rasa.shared.exceptions import RasaException

from mitra_config.graph_api import GRAPH_API_BASE_URL, GRAPH_API_VERSION
from mitra_config.secrets import InsecureSecretError, require_secret
from mitra_config.values import ConfigValueError, parse_bool

logger = structlog.get_logger(__name__)

SECRETS = ("access_token", "app_secret", "verify_token")
REQUIRED = (*SECRETS, "phone_number_id")
# Older name of queue_redis_url (it only de-duplicated then); still read, with a warning.
DEPRECATED_REDIS_URL = ("dedup_redis_url", "WHATSAPP_DEDUP_REDIS_URL")

INGRESS_MODES = ("rasa", "gateway")
DEFAULT_QUEUE_PATH = "var/whatsapp_inbound.db"
DEFAULT_TTL_SECONDS = 7 * 24 * 3600  # Meta retries an unacknowledged webhook for 7 days
DEFAULT_KEY_PREFIX = "mitra:whatsapp:"
ONE_MEGABYTE = 1024 * 1024


def env_var(key: str) -> str:
    return "WHATSAPP_" + key.upper()


@dataclass(frozen=True)
class WhatsAppConfig:
    access_token: str
    app_secret: str
    verify_token: str
    phone_number_id: str
    api_base_url: str = GRAPH_API_BASE_URL
    api_version: str = GRAPH_API_VERSION
    # Durable inbound queue (connectors.inbound_queue): SQLite journal by default, Redis
    # streams shared by several instances when queue_redis_url is set.
    queue_path: str = DEFAULT_QUEUE_PATH
    queue_synchronous: str = "NORMAL"
    queue_redis_url: str | None = None
    queue_key_prefix: str = DEFAULT_KEY_PREFIX
    queue_partitions: int = 32
    queue_lease_seconds: float = 10.0
    # How long a handled message id is remembered (redeliveries are duplicates).
    dedup_ttl_seconds: int = DEFAULT_TTL_SECONDS
    max_pending: int = 10_000
    max_pending_per_sender: int = 50
    max_body_bytes: int = ONE_MEGABYTE
    mark_as_read: bool = True
    typing_indicator: bool = False
    send_timeout_seconds: float = 10.0
    retry_attempts: int = 5
    retry_base_delay: float = 0.2
    retry_max_delay: float = 5.0
    max_concurrent_turns: int = 64
    # Run Rasa turns on their own loop so they never delay webhook acknowledgements
    # (see connectors.turn_runner).
    turns_in_thread: bool = True
    turn_timeout_seconds: float | None = 300.0
    turn_attempts: int = 3
    turn_retry_base_delay: float = 1.0
    turn_retry_max_delay: float = 30.0
    shutdown_timeout_seconds: float = 10.0
    # Where webhooks arrive (connectors.ingress): "rasa" (this channel; turns run in the
    # same process) or "gateway" (python -m connectors.gateway stores them; Rasa only
    # runs turns, and with the SQLite journal looks for new rows this often).
    ingress: str = "rasa"
    queue_watch_seconds: float = 0.02

    @classmethod
    def from_credentials(
        cls,
        credentials: Mapping[str, Any] | None,
        environ: Mapping[str, str] | None = None,
    ) -> WhatsAppConfig:
        """Build the config; raises ``RasaException`` naming what is missing or wrong."""
        environ = os.environ if environ is None else environ
        credentials = credentials or {}
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = _lookup(field.name, credentials, environ)
            if raw is None and field.name == "queue_redis_url":
                raw = _deprecated_redis_url(credentials, environ)
            if raw is None:
                continue
            values[field.name] = _coerce(field.name, field.type, raw)
        missing = [name for name in REQUIRED if not values.get(name)]
        if "phone_number_id" in missing:
            raise RasaException(
                "The WhatsApp channel needs phone_number_id (WHATSAPP_PHONE_NUMBER_ID): "
                "set it in credentials.yml or in the environment."
            )
        if values.get("ingress", "rasa") not in INGRESS_MODES:
            raise RasaException(
                f"WhatsApp channel: ingress must be one of {', '.join(INGRESS_MODES)}, "
                f"not {values['ingress']!r}"
            )
        _check_secrets(values, environ)
        return cls(**values)


def _lookup(key: str, credentials: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    raw = _resolve(credentials.get(key), environ)
    if raw is None:
        raw = _resolve(environ.get(env_var(key)), environ)
    return raw


def _deprecated_redis_url(credentials: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    key, variable = DEPRECATED_REDIS_URL
    raw = _resolve(credentials.get(key), environ) or _resolve(environ.get(variable), environ)
    if raw is not None:
        logger.warning(
            "whatsapp.config.deprecated", old=f"{key} / {variable}",
            new=f"queue_redis_url / {env_var('queue_redis_url')}",
        )
    return raw


def _check_secrets(values: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """The shared secret rule, applied to the value wherever it came from."""
    checked = dict(environ)
    if values.get("api_base_url"):
        checked[env_var("api_base_url")] = str(values["api_base_url"])
    for key in SECRETS:
        checked[env_var(key)] = str(values.get(key) or "")
        try:
            require_secret(env_var(key), checked)
        except InsecureSecretError as exc:
            raise RasaException(f"WhatsApp channel, {key}: {exc}") from exc


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
            return parse_bool(name, value)
        if kind.startswith("int"):
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
    except (TypeError, ValueError, ConfigValueError) as exc:
        raise RasaException(f"WhatsApp channel: invalid value for {name}: {value!r}") from exc
    return str(value)
