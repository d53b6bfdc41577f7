"""Shared field types for the API."""

from datetime import UTC, date, datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from app.services.ledger import reserved_key_prefix

# 1-160 characters of [A-Za-z0-9_.:-] that start and end with a letter or digit: "." and
# ".." (path segments that change which route a client calls), "a..", "-x" are refused.
WA_ID_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_.:-]{0,158}[A-Za-z0-9])?$"


def _utc_iso(value: datetime) -> str:
    # "+00:00" rather than "Z": Python 3.10's datetime.fromisoformat (the bot side)
    # does not read "Z".
    return value.astimezone(UTC).isoformat()


UTCDatetime = Annotated[datetime, PlainSerializer(_utc_iso, return_type=str, when_used="json")]


def _no_control_chars(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


ReferenceType = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    AfterValidator(_no_control_chars),
]
ReferenceId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_no_control_chars),
]


def _caller_key(value: str) -> str:
    prefix = reserved_key_prefix(value)
    if prefix is not None:
        raise ValueError(f"idempotency keys starting {prefix!r} are reserved for the backend")
    return value


# A caller's idempotency key: printable ASCII without spaces, outside the namespaces the
# backend keeps for its own entries (app/services/ledger.py, RESERVED_KEY_PREFIXES).
IdempotencyKey = Annotated[
    str,
    StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$"),
    AfterValidator(_caller_key),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(_no_control_chars),
]


class DateWindow(BaseModel):
    """``{from, to}``: inclusive WIB dates, either may be left out (a reward's or a
    questionnaire's window)."""

    model_config = ConfigDict(extra="forbid")

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from is after to")
        return self
