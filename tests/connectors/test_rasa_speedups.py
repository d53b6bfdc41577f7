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


def _rasa_accepts(result: object) -> bool:
    from jsonschema import validate

    try:
        validate(result, RemoteAction.action_response_format_spec())
    except ValidationError:
        return False
    return True


def _variants() -> list[object]:
    """Valid results of every event type, and each broken in the ways a schema catches."""
    events = [
        {"event": "user", "text": "halo", "parse_data": {"intent": {"name": "greet"}}},
        {"event": "bot", "text": "Halo!", "data": {"buttons": []}, "metadata": {}},
        {"event": "slot", "name": "language", "value": "en", "timestamp": None},
        {"event": "action", "name": "action_listen", "policy": None, "confidence": 1.0},
        {"event": "active_loop", "name": None},
        {"event": "followup", "name": "action_listen"},
        {"event": "reminder", "intent": "EXTERNAL_x", "date_time": "2026-11-28T10:00:00"},
        {"event": "pause"}, {"event": "resume"}, {"event": "restart"},
        {"event": "session_started", "metadata": {"a": 1}},
        {"event": "reset_slots"}, {"event": "export"}, {"event": "undo"}, {"event": "rewind"},
    ]  # fmt: skip
    broken = [
        {"event": "slot", "name": 42},
        {"event": "bot", "text": 7},
        {"event": "action", "name": ["x"]},
        {"event": "user", "parse_data": "text"},
        {"event": "pause", "timestamp": "now"},
        {"event": "session_started", "metadata": "x"},
        {"event": "no_such_event"},
        {"event": None},
        {"name": "language"},
        "slot",
        None,
    ]
    results: list[object] = [{"events": [e]} for e in events + broken]
    results += [{"events": events}, {"events": events + [broken[0]]}, {"events": []}, {}]
    results += [{"events": events, "responses": [{"text": "x"}]}, {"responses": ["x"]},
                {"events": None}, {"events": "x"}, [], "x"]  # fmt: skip
    return results


@pytest.mark.parametrize("result", _variants())
def test_the_quick_check_never_disagrees_with_rasa(result: object) -> None:
    """It may only say "valid" where Rasa's schema does; the full validator decides the
    rest, so the verdict (and Rasa's error) is unchanged."""
    accepted = _rasa_accepts(result)
    if rasa_speedups.quickly_valid(result):
        assert accepted
    if accepted and isinstance(result, dict) and result.get("events"):
        assert rasa_speedups.quickly_valid(result)  # and it is used: the fast path
    if accepted:
        assert remote_action()._validate_action_result(result) is True
    else:
        with pytest.raises(ValidationError):
            remote_action()._validate_action_result(result)


def test_install_is_idempotent() -> None:
    rasa_speedups.install()
    rasa_speedups.install()
    assert RemoteAction._validate_action_result is rasa_speedups.validate_action_result


async def test_the_model_loads_to_the_same_predictions() -> None:
    """The eager one-step build must give the model Rasa's own load gives: the same
    intent and confidence for every held-out example (the trained model of `make train`)."""
    from pathlib import Path

    from rasa.core.agent import Agent
    from rasa.model import get_latest_model
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.utils.tensorflow.models import RasaModel

    root = Path(__file__).resolve().parents[2]
    model = get_latest_model(str(root / "models"))
    assert model, "run `make train` first"
    texts = [m.get("text") for m in load_data(str(root / "tests/nlu/holdout.yml")).nlu_examples]
    texts = texts[:: max(1, len(texts) // 80)]

    async def parses() -> list[tuple[str, float]]:
        agent = Agent.load(model)
        results = [await agent.parse_message(text) for text in texts]
        return [(r["intent"]["name"], r["intent"]["confidence"]) for r in results]

    assert RasaModel.__dict__["load"].__func__ is rasa_speedups.load_for_inference
    patched = await parses()
    RasaModel.load = rasa_speedups._original_load  # type: ignore[assignment]
    try:
        original = await parses()
    finally:
        RasaModel.load = classmethod(rasa_speedups.load_for_inference)  # type: ignore[assignment]
    assert [name for name, _ in patched] == [name for name, _ in original]
    for (_, mine), (_, theirs) in zip(patched, original, strict=True):
        assert mine == pytest.approx(theirs, abs=1e-5)
