"""The environment a Mitra process starts with, in the order people expect.

1. the caller's environment (``DATABASE_URL=… make run`` wins),
2. ``.env`` (the developer's own values; ``make run`` creates it with fresh secrets),
3. ``.env.example`` (committed defaults; it holds no working secret).

Files are read by python-dotenv, so ``$``, ``#`` and quotes in values mean what they
mean in a dotenv file, not what they would mean to Make or a shell. A variable that is
set but blank counts as unset, so it falls through to the next layer.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_FILE = ROOT / ".env.example"
# MITRA_ENV_FILE points elsewhere (tests use a file of their own).
LOCAL_FILE = Path(os.environ.get("MITRA_ENV_FILE") or ROOT / ".env")

# Secrets that `make run` generates into .env on first run (one per caller; see
# docs/security.md). The sandbox's WhatsApp demo values stay as committed in
# .env.example: they only work against the sandbox.
GENERATED_SECRETS = (
    "SERVICE_TOKEN",
    "ERP_API_KEY",
    "ADMIN_API_KEY",
    "PAYOUT_CALLBACK_TOKEN",
    "WHATSAPP_REPORT_TOKEN",
    "ACTION_SERVER_TOKEN",
    "RASA_AUTH_TOKEN",
)
# The support console's demo logins (an agent and an admin), printed by `make run`; the
# backend creates these users outside production only (docs/handoff.md).
DEMO_LOGINS = (
    "DEMO_AGENT_EMAIL", "DEMO_AGENT_PASSWORD", "DEMO_ADMIN_EMAIL", "DEMO_ADMIN_PASSWORD",
)
GENERATED = GENERATED_SECRETS + DEMO_LOGINS
DEMO_EMAILS = {"DEMO_AGENT_EMAIL": "agent@mitra.example", "DEMO_ADMIN_EMAIL": "admin@mitra.example"}


def fresh_value(name: str) -> str:
    """A new value for a generated variable: the demo e-mails are fixed, passwords are
    16 random characters (typed by people), secrets 32 random bytes."""
    if name in DEMO_EMAILS:
        return DEMO_EMAILS[name]
    if name.endswith("_PASSWORD"):
        return secrets.token_urlsafe(12)
    return secrets.token_urlsafe(32)


def read_file(path: Path) -> dict[str, str]:
    """Non-blank values of one dotenv file (missing file: nothing)."""
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value}


def layered_environment(
    environ: Mapping[str, str] | None = None,
    example_file: Path = EXAMPLE_FILE,
    local_file: Path = LOCAL_FILE,
) -> dict[str, str]:
    """The caller's environment over ``.env`` over ``.env.example``."""
    environ = os.environ if environ is None else environ
    merged = read_file(example_file)
    merged.update(read_file(local_file))
    merged.update({key: value for key, value in environ.items() if value.strip()})
    return merged


def ensure_local_file(
    local_file: Path = LOCAL_FILE, names: Iterable[str] = GENERATED
) -> list[str]:
    """Create ``.env`` (mode 0600) or add to it a fresh value for each secret or demo login
    it lacks; returns the names written. Existing values are never changed."""
    present = read_file(local_file)
    missing = [name for name in names if name not in present]
    if not missing:
        return []
    lines = [f"{name}={fresh_value(name)}" for name in missing]
    header = []
    if not local_file.exists():
        header = ["# Local settings and secrets for `make run` (never commit this file)."]
    existing = local_file.read_text() if local_file.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    local_file.write_text(existing + "\n".join([*header, *lines]) + "\n")
    local_file.chmod(0o600)
    return missing
