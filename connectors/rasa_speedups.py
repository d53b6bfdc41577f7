"""Fixes for costs inside Rasa 3.6 that the profile of a burst of new conversations
showed (``bench/README.md``, "Where a turn's time goes"). Installed once when Rasa loads
the WhatsApp channel (``connectors.whatsapp_connector`` imports this module).

**Action-result validation.** Rasa checks every action server reply against its JSON
schema with ``jsonschema.validate(result, schema)``, which first re-checks the *schema*
itself against the metaschema, every call: 20.6 ms of CPU per action call on this
machine, a third of the turn thread at 20 new conversations/s (two action calls each:
``action_session_start`` and the answer). A validator built once for the schema gives
the same verdicts, with the same ``ValidationError`` and message, in 1.1 ms. Most of
what is left is the ``oneOf`` over Rasa's 23 event types, every event tried against every
type; since each type pins ``event`` to its own constant, an event can only ever match
the one type its ``event`` names, so checking that one type gives the same verdict. A
result that fails the quick check goes through the full validator, which raises Rasa's
own error (or accepts it: the quick check never decides "invalid" by itself).

**Model loading.** To give DIET's layers their weights, Rasa's ``RasaModel.load`` first
*trains* on one example (``model.fit``: traces the whole training step, loss and
optimizer included), then loads the saved weights, then runs one prediction to trace
the inference function. Running that one training step eagerly builds the same
variables without tracing the training step into a graph, which is most of the load
time; the weights then overwrite them as before, so the model is the same
(``tests/connectors/test_rasa_speedups.py`` compares parses of the held-out set).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import structlog
from jsonschema import ValidationError, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

logger = structlog.get_logger(__name__)

_INSTALLED_MARK = "_mitra_cached_validator"


@lru_cache(maxsize=1)
def action_result_validator() -> Any:
    """The validator for Rasa's action-response schema, checked against its metaschema once."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@lru_cache(maxsize=1)
def _per_event_validators() -> tuple[Any, dict[str, Any]] | None:
    """A validator for the result without its events' ``oneOf``, and one per event type
    (the common event properties plus that type's branch); None when the schema is not
    the shape this relies on (every branch pinning ``event`` to a distinct constant)."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    try:
        items = schema["properties"]["events"]["items"]
        branches = items["oneOf"]
        consts = [branch["properties"]["event"]["const"] for branch in branches]
    except (KeyError, TypeError):
        return None
    if len(set(consts)) != len(consts) or "event" not in items.get("required", []):
        return None
    envelope = copy.deepcopy(schema)
    envelope["properties"]["events"] = {"type": "array"}
    common = {key: value for key, value in items.items() if key != "oneOf"}
    by_event = {
        const: validator_class({"allOf": [common, branch]})
        for const, branch in zip(consts, branches, strict=True)
    }
    return validator_class(envelope), by_event


def quickly_valid(result: Any) -> bool:
    """True only when the result is valid (the same verdict as the full schema);
    False means "ask the full validator"."""
    validators_ = _per_event_validators()
    if validators_ is None:
        return False
    envelope, by_event = validators_
    if not envelope.is_valid(result):
        return False
    for event in result.get("events") or []:
        kind = event.get("event") if isinstance(event, dict) else None
        validator = by_event.get(kind) if isinstance(kind, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once."""
    if quickly_valid(result):
        return True
    try:
        action_result_validator().validate(result)
    except ValidationError as error:  # the same message Rasa's own method adds
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise
    return True


def load_for_inference(
    cls: type[Any],
    model_file_name: str,
    model_data_example: Any,
    predict_data_example: Any = None,
    finetune_mode: bool = False,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """``RasaModel.load`` whose one-example training step, there only to create the
    variables the saved weights go into, runs eagerly instead of as a traced graph."""
    if finetune_mode or predict_data_example is None:  # training goes on: Rasa's own way
        return _original_load.__func__(  # type: ignore[attr-defined]
            cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
            *args, **kwargs,
        )
    import tensorflow as tf
    from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator

    model = cls(*args, **kwargs)
    config = kwargs.get("config", {})
    # One training step builds every variable the saved weights need, as in Rasa, but
    # eagerly: tracing the training step into a graph is most of the load time, and
    # this step's result is overwritten by the weights anyway.
    model.compile(
        optimizer=tf.keras.optimizers.Adam(config.get("learning_rate", 0.001)),
        run_eagerly=True,
    )
    model.fit(RasaBatchDataGenerator(model_data_example, batch_size=1), verbose=False)
    model.run_eagerly = config.get("run_eagerly")
    model.load_weights(model_file_name)
    model.run_inference(predict_data_example)  # traces the prediction function
    return model


_original_load: Any = None


def install() -> None:
    """Apply the fixes (idempotent)."""
    global _original_load
    if getattr(RemoteAction._validate_action_result, _INSTALLED_MARK, False):
        return
    from rasa.utils.tensorflow.models import RasaModel

    setattr(validate_action_result, _INSTALLED_MARK, True)
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    _original_load = RasaModel.__dict__["load"]
    RasaModel.load = classmethod(load_for_inference)  # type: ignore[assignment]
    logger.debug("rasa_speedups.installed", fixes=["action_result_validation", "model_load"])
