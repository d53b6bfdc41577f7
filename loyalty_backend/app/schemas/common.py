"""Shared field types for the API."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, StringConstraints

WA_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,160}$"


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
IdempotencyKey = Annotated[
    str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(_no_control_chars),
]
