"""Fixes for costs inside Rasa 3.6 that the profile of a burst of new conversations
showed (``bench/README.md``, "Where a turn's time goes"). Installed once when Rasa loads
the WhatsApp channel (``connectors.whatsapp_connector`` imports this module).

**Action-result validation.** Rasa checks every action server reply against its JSON
schema with ``jsonschema.validate(result, schema)``, which first re-checks the *schema*
itself against the metaschema, every call: 20.6 ms of CPU per action call on this
machine, a third of the turn thread at 20 new conversations/s (two action calls each:
``action_session_start`` and the answer). A validator built once for the schema gives
the same verdicts, with the same ``ValidationError`` and message, in 1.1 ms.
"""

from __future__ import annotations

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


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once."""
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


def install() -> None:
    """Apply the fixes (idempotent)."""
    if getattr(RemoteAction._validate_action_result, _INSTALLED_MARK, False):
        return
    setattr(validate_action_result, _INSTALLED_MARK, True)
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    logger.debug("rasa_speedups.installed", fixes=["action_result_validation"])
