"""Reading a content file (``content/*.yml``, edited by people, not code) into its
pydantic model, with every problem in one error that names the file and the field."""

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def _where(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def parse_content(raw: Any, model: type[Model], error: type[Exception], source: str) -> Model:
    """``raw`` (parsed YAML) checked against ``model``; ``error`` lists every problem."""
    if not isinstance(raw, dict):
        raise error(f"{source}: expected a mapping at the top level")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e)}: {e['msg']}" for e in exc.errors())
        raise error(f"{source}: {problems}") from None


def read_content(path: Path, model: type[Model], error: type[Exception]) -> Model:
    """The file at ``path``, read, parsed and checked (``error`` when any step fails)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc})") from None
    return parse_content(raw, model, error, str(path))
