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
    assert config.dedup_redis_url is None


def test_credentials_win_and_placeholders_fall_back() -> None:
    credentials = {
        "access_token": "yml-token",
        "app_secret": "${WHATSAPP_APP_SECRET}",  # left unexpanded → environment
        "verify_token": "${NOT_SET_ANYWHERE}",  # unresolvable → WHATSAPP_VERIFY_TOKEN
        "phone_number_id": 100000000000002,  # YAML gives an int
        "api_base_url": "http://${SANDBOX_HOST}:8090",
        "api_version": "",
        "dedup_redis_url": "",
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
    assert config.dedup_redis_url is None
    assert config.mark_as_read is False
    assert config.retry_attempts == 3


def test_missing_secrets_fail_at_startup() -> None:
    with pytest.raises(RasaException, match="app_secret.*WHATSAPP_APP_SECRET"):
        WhatsAppConfig.from_credentials({}, environ={**ENV, "WHATSAPP_APP_SECRET": ""})


def test_channel_from_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", "http://127.0.0.1:8090")
    monkeypatch.setenv("WHATSAPP_DEDUP_REDIS_URL", "redis://127.0.0.1:6379/0")
    channel = WhatsAppInput.from_credentials(None)
    assert WhatsAppInput.name() == "whatsapp"
    assert channel.url_prefix() == "whatsapp"
    assert channel.config.dedup_redis_url == "redis://127.0.0.1:6379/0"
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
