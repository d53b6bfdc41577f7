"""What a secret must look like before a process may start with it.

One rule for every bot-side process (the backend applies the same rule in its own
settings, since the two projects never import each other's code):

- blank means missing, and a missing secret stops the process, naming the variable;
  there is never a committed fallback;
- in production (``APP_ENV=production``, or a real Graph API base URL, i.e. the sandbox is
  not in use) a committed demo value or one shorter than 32 bytes stops it too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

MIN_SECRET_BYTES = 32

# Every secret value that is (or was) committed to this repository.
DEMO_SECRET_VALUES = frozenset(
    {
        "demo-service-token",
        "demo-rasa-token",
        "demo-erp-key",
        "demo-admin-key",
        "demo-action-server-token",
        "sandbox-access-token",
        "sandbox-app-secret",
        "sandbox-verify-token",
        "changeme",
    }
)
DEMO_PREFIXES = ("demo-", "sandbox-", "test-", "changeme")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class InsecureSecretError(RuntimeError):
    """A secret is missing, or not fit for production; the message names the variable."""


def is_production(environ: Mapping[str, str] | None = None) -> bool:
    """Production: ``APP_ENV=production``, or WhatsApp traffic goes to a real Graph API."""
    environ = os.environ if environ is None else environ
    if environ.get("APP_ENV", "").strip().lower() == "production":
        return True
    base_url = environ.get("WHATSAPP_API_BASE_URL", "").strip()
    if not base_url:
        return False
    host = (urlsplit(base_url).hostname or "").lower()
    return host not in LOOPBACK_HOSTS and not host.startswith("127.")


def is_demo_value(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in DEMO_SECRET_VALUES or lowered.startswith(DEMO_PREFIXES)


def require_secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of secret ``name``; raises :class:`InsecureSecretError` when unusable."""
    environ = os.environ if environ is None else environ
    value = (environ.get(name) or "").strip()
    if not value:
        raise InsecureSecretError(
            f"{name} is not set: set it in the environment or in .env "
            f"(`make run` generates one with fresh random secrets)."
        )
    if is_production(environ):
        if is_demo_value(value):
            raise InsecureSecretError(
                f"{name} holds a demo value; production needs a secret of its own "
                f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
            )
        if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
            raise InsecureSecretError(
                f"{name} is shorter than {MIN_SECRET_BYTES} bytes; production refuses it."
            )
    return value


def check_secrets(
    names: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``require_secret`` for each name; the first failure is raised."""
    return {name: require_secret(name, environ) for name in names}
