"""Secrets per environment: production refuses to start with a missing, demo or short one."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.core.config import CREDENTIAL_VARS, DEMO_SECRET_VALUES, Settings, is_demo_secret

BACKEND_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def db() -> None:
    """Settings need no database: run these once, not once per backend."""


def _strong() -> dict[str, str]:
    return {name: secrets.token_urlsafe(32) for name in CREDENTIAL_VARS}


def test_production_accepts_strong_distinct_secrets() -> None:
    keys = _strong()
    configured = Settings(APP_ENV="production", **keys)
    assert configured.APP_ENV == "production"
    assert {name: configured.credential(name) for name in CREDENTIAL_VARS} == keys
    # Secrets never show in a repr or a log line of the settings.
    assert not any(value in repr(configured) for value in keys.values())


@pytest.mark.parametrize("name", CREDENTIAL_VARS)
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("   \t", "is not set"),
        ("demo-service-token", "holds a demo value"),
        ("demo-erp-key", "holds a demo value"),
        ("demo-admin-key", "holds a demo value"),
        ("changeme", "holds a demo value"),
        ("CHANGEME-please-0123456789abcdef0123456789", "holds a demo value"),
        ("demo-" + "x" * 40, "holds a demo value"),
        ("sandbox-" + "x" * 40, "holds a demo value"),
        ("test-" + "x" * 40, "holds a demo value"),
        ("x" * 31, "is shorter than 32 bytes"),
        ("é" * 15, "is shorter than 32 bytes"),  # 30 bytes
    ],
)
def test_production_refuses_a_bad_secret(name: str, value: str | None, problem: str) -> None:
    keys: dict[str, str | None] = {**_strong(), name: value}
    with pytest.raises(ValidationError) as error:
        Settings(APP_ENV="production", **keys)
    message = str(error.value)
    assert f"{name} {problem}" in message, message
    assert "production refuses to start" in message
    # The error never echoes a secret (pydantic would, without hide_input_in_errors).
    assert "input_value" not in message
    assert not any(v in message for v in keys.values() if v and len(v.strip()) > 8)


def test_production_names_every_missing_secret() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(APP_ENV="production", **dict.fromkeys(CREDENTIAL_VARS))
    for name in CREDENTIAL_VARS:
        assert f"{name} is not set" in str(error.value)


def test_sixteen_bytes_of_multibyte_text_are_counted_in_bytes() -> None:
    Settings(APP_ENV="production", **{**_strong(), "ERP_API_KEY": "é" * 16})  # 32 bytes


@pytest.mark.parametrize("env", ["development", "test"])
def test_outside_production_a_missing_secret_disables_the_caller(env: str) -> None:
    configured = Settings(
        APP_ENV=env,
        SERVICE_TOKEN=" ",
        ERP_API_KEY=None,
        ADMIN_API_KEY="",
        PAYOUT_CALLBACK_TOKEN="",
        WHATSAPP_REPORT_TOKEN=" ",
    )
    assert all(configured.credential(name) is None for name in CREDENTIAL_VARS)
    # Short or demo values are a development convenience (the root tests use them).
    assert Settings(APP_ENV=env, SERVICE_TOKEN="test-service-token").credential(
        "SERVICE_TOKEN"
    ) == ("test-service-token")


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_two_callers_may_not_share_a_secret(env: str) -> None:
    keys = _strong()
    keys["ADMIN_API_KEY"] = keys["SERVICE_TOKEN"]
    with pytest.raises(ValidationError, match="ADMIN_API_KEY and SERVICE_TOKEN hold the same"):
        Settings(APP_ENV=env, **keys)


@pytest.mark.parametrize("value", ["prod", "staging", "flase", ""])
def test_app_env_is_a_closed_set(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if value == "":
        # Blank means unset: the default (development).
        monkeypatch.setenv("APP_ENV", "")
        assert Settings().APP_ENV == "development"
        return
    with pytest.raises(ValidationError):
        Settings(APP_ENV=value)


def test_app_env_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", " Production ")
    for name, value in _strong().items():
        monkeypatch.setenv(name, value)
    assert Settings().APP_ENV == "production"
    monkeypatch.setenv("ADMIN_API_KEY", "")
    with pytest.raises(ValidationError, match="ADMIN_API_KEY is not set"):
        Settings()


def test_demo_values() -> None:
    assert {"demo-service-token", "demo-erp-key", "demo-admin-key"} <= DEMO_SECRET_VALUES
    assert all(is_demo_secret(value) for value in DEMO_SECRET_VALUES)
    assert not is_demo_secret(secrets.token_urlsafe(32).lstrip("-_") or "x")


def _import_app(extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # A clean environment: only what a deployment would set.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never-opened.db'}",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("SERVICE_TOKEN", None, "SERVICE_TOKEN is not set"),
        ("ERP_API_KEY", "", "ERP_API_KEY is not set"),
        ("ADMIN_API_KEY", "demo-admin-key", "ADMIN_API_KEY holds a demo value"),
        ("SERVICE_TOKEN", "short-but-not-demo", "SERVICE_TOKEN is shorter than 32 bytes"),
        ("PAYOUT_CALLBACK_TOKEN", None, "PAYOUT_CALLBACK_TOKEN is not set"),
        ("PAYOUT_CALLBACK_TOKEN", "demo-payout-token-0123456789abcdef", "holds a demo value"),
        ("WHATSAPP_REPORT_TOKEN", None, "WHATSAPP_REPORT_TOKEN is not set"),
    ],
)
def test_production_process_refuses_to_start(
    name: str, value: str | None, problem: str, tmp_path: Path
) -> None:
    keys = _strong()
    if value is None:
        del keys[name]
    else:
        keys[name] = value
    result = _import_app({"APP_ENV": "production", **keys}, tmp_path)
    assert result.returncode != 0
    assert problem in result.stderr, result.stderr[-2000:]
    assert not any(secret in result.stderr for key, secret in keys.items() if key != name)


def test_production_process_starts_with_its_own_secrets(tmp_path: Path) -> None:
    result = _import_app({"APP_ENV": "production", **_strong()}, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
