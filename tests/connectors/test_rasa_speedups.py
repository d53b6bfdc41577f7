"""The cached action-result validator must judge exactly as Rasa's own method does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

import connectors.whatsapp_connector  # noqa: F401 - installs the speedups on import
from connectors import rasa_speedups

VALID = {
    "events": [
        {"event": "session_started"},
        {"event": "slot", "name": "language", "value": "en"},
        {"event": "action", "name": "action_listen"},
    ],
    "responses": [{"response": "utter_not_registered", "buttons": [], "custom": {}}],
}
INVALID = [
    {"events": [{"event": "slot", "name": 42}]},  # a slot name must be a string
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
]


def remote_action() -> RemoteAction:
    return RemoteAction("action_check_balance", EndpointConfig("http://127.0.0.1:1/webhook"))


def test_installed_when_the_channel_module_is_imported() -> None:
    assert RemoteAction._validate_action_result is rasa_speedups.validate_action_result


def test_accepts_what_rasa_accepts() -> None:
    assert remote_action()._validate_action_result(VALID) is True


@pytest.mark.parametrize("result", INVALID)
def test_rejects_what_rasa_rejects_with_rasas_message(result: dict) -> None:
    from jsonschema import validate

    with pytest.raises(ValidationError):
        validate(result, RemoteAction.action_response_format_spec())  # Rasa's verdict
    with pytest.raises(ValidationError) as raised:
        remote_action()._validate_action_result(result)
    assert "Failed to validate Action server response from API" in raised.value.message


def test_install_is_idempotent() -> None:
    rasa_speedups.install()
    rasa_speedups.install()
    assert RemoteAction._validate_action_result is rasa_speedups.validate_action_result
