"""Channel configuration: credentials.yml values, ``${VAR}`` leftovers, environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.exceptions import RasaException
from rasa.shared.utils.common import class_from_module_path
from rasa.shared.utils.io import read_config_file

from connectors.config import WhatsAppConfig
from connectors.whatsapp_connector import WhatsAppInput, WhatsAppOutput

ENV = {
    "WHATSAPP_ACCESS_TOKEN": "env-token",
    "WHATSAPP_APP_SECRET": "env-secret",
    "WHATSAPP_VERIFY_TOKEN": "env-verify",
    "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
}


def test_environment_fills_missing_credentials() -> None:
    config = WhatsAppConfig.from_credentials(None, environ=ENV)
    assert config.access_token == "env-token"
    assert config.app_secret == "env-secret"
    assert config.verify_token == "env-verify"
    assert config.phone_number_id == "100000000000001"
    assert config.api_base_url == "https://graph.facebook.com"
    assert config.api_version == "v21.0"
    assert config.queue_redis_url is None
    assert config.queue_path == "var/whatsapp_inbound.db"
    assert config.queue_synchronous == "NORMAL"
    assert config.max_body_bytes == 1024 * 1024
    assert config.max_pending_per_sender == 50
    assert config.turn_attempts == 3


def test_credentials_win_and_placeholders_fall_back() -> None:
    credentials = {
        "access_token": "yml-token",
        "app_secret": "${WHATSAPP_APP_SECRET}",  # left unexpanded → environment
        "verify_token": "${NOT_SET_ANYWHERE}",  # unresolvable → WHATSAPP_VERIFY_TOKEN
        "phone_number_id": 100000000000002,  # YAML gives an int
        "api_base_url": "http://${SANDBOX_HOST}:8090",
        "api_version": "",
        "queue_redis_url": "",
        "mark_as_read": "false",
        "retry_attempts": "3",
    }
    env = {**ENV, "SANDBOX_HOST": "127.0.0.1", "WHATSAPP_API_VERSION": "v20.0"}
    config = WhatsAppConfig.from_credentials(credentials, environ=env)
    assert config.access_token == "yml-token"
    assert config.app_secret == "env-secret"
    assert config.verify_token == "env-verify"
    assert config.phone_number_id == "100000000000002"
    assert config.api_base_url == "http://127.0.0.1:8090"
    assert config.api_version == "v20.0"
    assert config.queue_redis_url is None
    assert config.mark_as_read is False
    assert config.retry_attempts == 3


def test_missing_secrets_fail_at_startup() -> None:
    with pytest.raises(RasaException, match="app_secret.*WHATSAPP_APP_SECRET"):
        WhatsAppConfig.from_credentials({}, environ={**ENV, "WHATSAPP_APP_SECRET": ""})
    with pytest.raises(RasaException, match="verify_token.*WHATSAPP_VERIFY_TOKEN"):
        WhatsAppConfig.from_credentials({}, environ={**ENV, "WHATSAPP_VERIFY_TOKEN": "  "})
    with pytest.raises(RasaException, match="WHATSAPP_PHONE_NUMBER_ID"):
        WhatsAppConfig.from_credentials({}, environ={**ENV, "WHATSAPP_PHONE_NUMBER_ID": ""})


@pytest.mark.parametrize(
    "production",
    [{"APP_ENV": "production"}, {"WHATSAPP_API_BASE_URL": "https://graph.facebook.com"}],
    ids=["app-env", "real-graph-api"],
)
def test_production_refuses_demo_and_short_secrets(production: dict[str, str]) -> None:
    strong = {
        "WHATSAPP_ACCESS_TOKEN": "EAAG" + "x" * 60,
        "WHATSAPP_APP_SECRET": "0123456789abcdef0123456789abcdef",
        "WHATSAPP_VERIFY_TOKEN": "a-verify-token-that-is-long-enough-1",
        "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
        **production,
    }
    assert WhatsAppConfig.from_credentials({}, environ=strong).app_secret == (
        "0123456789abcdef0123456789abcdef"
    )
    with pytest.raises(RasaException, match="WHATSAPP_APP_SECRET.*demo"):
        demo = {**strong, "WHATSAPP_APP_SECRET": "sandbox-app-secret"}
        WhatsAppConfig.from_credentials({}, environ=demo)
    with pytest.raises(RasaException, match="WHATSAPP_VERIFY_TOKEN.*32 bytes"):
        WhatsAppConfig.from_credentials({}, environ={**strong, "WHATSAPP_VERIFY_TOKEN": "short"})
    # A secret written in credentials.yml is held to the same rule.
    with pytest.raises(RasaException, match="access_token.*32 bytes"):
        WhatsAppConfig.from_credentials({"access_token": "tiny"}, environ=strong)


def test_the_sandbox_base_url_in_credentials_is_not_production() -> None:
    env = {**ENV, "WHATSAPP_API_BASE_URL": "https://graph.facebook.com"}
    with pytest.raises(RasaException, match="WHATSAPP_ACCESS_TOKEN"):
        WhatsAppConfig.from_credentials({}, environ=env)
    local = WhatsAppConfig.from_credentials({"api_base_url": "http://127.0.0.1:8090"}, env)
    assert local.api_base_url == "http://127.0.0.1:8090"


@pytest.mark.parametrize("raw", ["flase", "ja", "2", ""])
def test_booleans_are_strict(raw: str) -> None:
    if raw == "":  # empty means "not set": the default
        assert WhatsAppConfig.from_credentials({"mark_as_read": raw}, environ=ENV).mark_as_read
        return
    with pytest.raises(RasaException, match="mark_as_read"):
        WhatsAppConfig.from_credentials({"mark_as_read": raw}, environ=ENV)
    with pytest.raises(RasaException, match="turns_in_thread"):
        WhatsAppConfig.from_credentials({}, environ={**ENV, "WHATSAPP_TURNS_IN_THREAD": raw})


def test_every_key_has_its_environment_variable() -> None:
    env = {
        **ENV,
        "WHATSAPP_QUEUE_PATH": "/srv/mitra/inbound.db",
        "WHATSAPP_QUEUE_SYNCHRONOUS": "FULL",
        "WHATSAPP_QUEUE_REDIS_URL": "redis://127.0.0.1:6379/3",
        "WHATSAPP_QUEUE_PARTITIONS": "64",
        "WHATSAPP_MAX_PENDING_PER_SENDER": "20",
        "WHATSAPP_MAX_BODY_BYTES": "2097152",
        "WHATSAPP_TURN_ATTEMPTS": "5",
        "WHATSAPP_TURN_TIMEOUT_SECONDS": "60",
    }
    config = WhatsAppConfig.from_credentials(None, environ=env)
    assert config.queue_path == "/srv/mitra/inbound.db"
    assert config.queue_synchronous == "FULL"
    assert config.queue_redis_url == "redis://127.0.0.1:6379/3"
    assert config.queue_partitions == 64
    assert config.max_pending_per_sender == 20
    assert config.max_body_bytes == 2 * 1024 * 1024
    assert config.turn_attempts == 5 and config.turn_timeout_seconds == 60.0
    with pytest.raises(RasaException, match="queue_partitions"):
        WhatsAppConfig.from_credentials(None, environ={**env, "WHATSAPP_QUEUE_PARTITIONS": "x"})


def test_the_old_dedup_redis_url_still_switches_redis_on() -> None:
    """Two instances configured with the old name must keep sharing one queue."""
    env = {**ENV, "WHATSAPP_DEDUP_REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert WhatsAppConfig.from_credentials(None, environ=env).queue_redis_url == (
        "redis://127.0.0.1:6379/0"
    )
    both = {**env, "WHATSAPP_QUEUE_REDIS_URL": "redis://127.0.0.1:6379/1"}
    assert WhatsAppConfig.from_credentials(None, environ=both).queue_redis_url == (
        "redis://127.0.0.1:6379/1"
    )
    empty = {**ENV, "WHATSAPP_DEDUP_REDIS_URL": ""}  # as in .env.example
    assert WhatsAppConfig.from_credentials(None, environ=empty).queue_redis_url is None


def test_channel_from_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", "http://127.0.0.1:8090")
    monkeypatch.setenv("WHATSAPP_QUEUE_REDIS_URL", "redis://127.0.0.1:6379/0")
    channel = WhatsAppInput.from_credentials(None)
    assert WhatsAppInput.name() == "whatsapp"
    assert channel.url_prefix() == "whatsapp"
    assert channel.config.queue_redis_url == "redis://127.0.0.1:6379/0"
    assert channel.graph_client.config.messages_url == (
        "http://127.0.0.1:8090/v21.0/100000000000001/messages"
    )
    output = channel.get_output_channel()
    assert isinstance(output, WhatsAppOutput) and output.name() == "whatsapp"


def test_rasa_builds_the_channel_from_credentials_yml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The steps rasa.core.run takes for a custom channel in `credentials.yml`
    (importing rasa.core.run itself would pull in TensorFlow and cost seconds)."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    credentials = tmp_path / "credentials.yml"
    credentials.write_text(
        "connectors.whatsapp_connector.WhatsAppInput:\n"
        "  access_token: ${WHATSAPP_ACCESS_TOKEN}\n"
        "  api_base_url: http://127.0.0.1:8090\n"
        "rest:\n"
    )
    all_credentials = read_config_file(str(credentials))
    name = "connectors.whatsapp_connector.WhatsAppInput"
    channel = class_from_module_path(name).from_credentials(all_credentials[name])
    assert isinstance(channel, WhatsAppInput)
    assert channel.config.access_token == "env-token"
    assert channel.config.api_base_url == "http://127.0.0.1:8090"

    # A bare key (no values at all) works too: everything from the environment.
    credentials.write_text("connectors.whatsapp_connector.WhatsAppInput:\n")
    bare = read_config_file(str(credentials))[name]
    assert class_from_module_path(name).from_credentials(bare).config.app_secret == "env-secret"
