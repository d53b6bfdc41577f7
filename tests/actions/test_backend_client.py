"""The backend client takes its service token from the environment, never from code."""

from __future__ import annotations

import pytest

from actions.backend_client import BackendClient
from mitra_config.secrets import InsecureSecretError


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_missing_service_token_is_refused(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("SERVICE_TOKEN", raising=False)
    else:
        monkeypatch.setenv("SERVICE_TOKEN", value)
    with pytest.raises(InsecureSecretError, match="SERVICE_TOKEN"):
        BackendClient.from_env()


def test_production_refuses_the_demo_token(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SERVICE_TOKEN", "demo-service-token")
    with pytest.raises(InsecureSecretError, match="SERVICE_TOKEN"):
        BackendClient.from_env()


def test_the_token_from_the_environment_is_sent(monkeypatch):
    monkeypatch.setenv("SERVICE_TOKEN", "a-token-from-the-environment")
    client = BackendClient.from_env()
    assert client.session.headers["Authorization"] == "Bearer a-token-from-the-environment"
