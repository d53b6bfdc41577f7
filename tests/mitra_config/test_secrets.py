"""The secret rule every bot-side process applies before it starts."""

from __future__ import annotations

import pytest

from mitra_config.secrets import InsecureSecretError, is_production, require_secret
from mitra_config.values import ConfigValueError, parse_bool

STRONG = "k3Jx9-QmT2v8Lr4Zp7Wn1Yb6Hc5Ds0Fa"  # 34 bytes, not a demo value


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_or_blank_secret_is_refused_in_every_environment(value: str | None) -> None:
    environ = {} if value is None else {"SERVICE_TOKEN": value}
    with pytest.raises(InsecureSecretError, match="SERVICE_TOKEN"):
        require_secret("SERVICE_TOKEN", environ)


def test_development_accepts_the_sandbox_demo_values() -> None:
    environ = {"WHATSAPP_APP_SECRET": "sandbox-app-secret",
               "WHATSAPP_API_BASE_URL": "http://127.0.0.1:8090"}
    assert require_secret("WHATSAPP_APP_SECRET", environ) == "sandbox-app-secret"


@pytest.mark.parametrize(
    "production",
    [{"APP_ENV": "production"}, {"WHATSAPP_API_BASE_URL": "https://graph.facebook.com"}],
    ids=["APP_ENV", "real-graph-url"],
)
@pytest.mark.parametrize(
    "value", ["demo-rasa-token", "sandbox-app-secret", "test-" + "x" * 40, "short-but-random"]
)
def test_production_refuses_demo_and_short_secrets(production: dict, value: str) -> None:
    with pytest.raises(InsecureSecretError, match="RASA_AUTH_TOKEN"):
        require_secret("RASA_AUTH_TOKEN", {**production, "RASA_AUTH_TOKEN": value})


def test_production_accepts_a_long_random_secret() -> None:
    environ = {"APP_ENV": "production", "RASA_AUTH_TOKEN": STRONG}
    assert require_secret("RASA_AUTH_TOKEN", environ) == STRONG


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"APP_ENV": "development"}, False),
        ({"APP_ENV": "Production"}, True),
        ({"WHATSAPP_API_BASE_URL": "http://127.0.0.1:8090"}, False),
        ({"WHATSAPP_API_BASE_URL": "http://localhost:8090"}, False),
        ({"WHATSAPP_API_BASE_URL": "https://graph.facebook.com"}, True),
    ],
)
def test_production_is_app_env_or_a_real_graph_api(environ: dict, expected: bool) -> None:
    assert is_production(environ) is expected


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("OFF", False), ("1", True)])
def test_booleans_parse(raw: str, expected: bool) -> None:
    assert parse_bool("X", raw) is expected


@pytest.mark.parametrize("raw", ["flase", "", "2", "enabled"])
def test_a_typo_in_a_boolean_is_an_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigValueError, match="RASA_ENABLE_API"):
        parse_bool("RASA_ENABLE_API", raw)
