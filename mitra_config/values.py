"""Strict parsing of configuration values: a typo is an error, never a silent default."""

from __future__ import annotations

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class ConfigValueError(ValueError):
    """A configuration value that cannot be read; the message names the variable."""


def parse_bool(name: str, raw: str | bool | int) -> bool:
    """``true/false/yes/no/on/off/1/0`` (any case); anything else raises."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigValueError(f"{name}: {raw!r} is not a boolean (use true or false)")
