"""Support hours, the no-agent timeout and canned replies, from ``content/support.yml``.

The file is data (WIB, Asia/Jakarta): weekly opening hours, holidays, how long a partner
waits before the bot offers "keep waiting" or "back to the bot", the wait the bot quotes,
and the console's canned replies. It is read and checked once per process
(``load_support``); a mistake is reported as ``SupportFileError`` naming the file and the
field, e.g. ``content/support.yml: hours.monday: '8-17' is not HH:MM-HH:MM``.

Two settings override the file (tests, or a demo outside office hours):
``SUPPORT_HOURS_ALWAYS_OPEN`` (true: always open; false: closed now; unset: the file
decides) and ``HANDOFF_TIMEOUT_SECONDS`` (instead of ``no_agent_timeout_minutes``).
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.core.clock import WIB
from app.core.config import settings
from app.core.content_files import parse_content, read_content

SUPPORT_FILE = Path(__file__).resolve().parents[3] / "content" / "support.yml"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_NAMES = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTH_NAMES = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
# How far ahead next_open looks (a long holiday season is still found).
LOOKAHEAD_DAYS = 60
_PERIOD = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]


class SupportFileError(ValueError):
    """content/support.yml cannot be used; the message names the file and the fields."""


class Bilingual(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Text
    en: Text


class CannedReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    text: Bilingual


class Holiday(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    name: str = ""


class Period(BaseModel):
    """One day's opening, WIB: [opens, closes)."""

    opens: time
    closes: time


def _period(value: Any) -> Period | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "closed"):
        return None
    if not isinstance(value, str) or not (match := _PERIOD.match(value.strip())):
        raise ValueError(f"{value!r} is not HH:MM-HH:MM or closed")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    opens = time(h1, m1)
    closes = time.max if (h2, m2) >= (24, 0) else time(h2, m2)
    if (h2, m2) > (24, 0) or (closes != time.max and closes <= opens):
        raise ValueError(f"{value!r}: closes before it opens")
    return Period(opens=opens, closes=closes)


class SupportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: dict[str, Period | None]
    holidays: list[Holiday] = Field(default_factory=list)
    no_agent_timeout_minutes: int = Field(ge=1, le=24 * 60)
    expected_wait_minutes: int = Field(ge=0, le=24 * 60)
    canned_replies: list[CannedReply] = Field(min_length=1)

    @field_validator("hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: Any) -> dict[str, Period | None]:
        if not isinstance(value, dict):
            raise ValueError("must map weekdays (monday ... sunday) to HH:MM-HH:MM or closed")
        unknown = sorted(str(k) for k in value if str(k).lower() not in WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday(s) {', '.join(unknown)}")
        parsed: dict[str, Period | None] = {}
        for day, period in value.items():
            try:
                parsed[str(day).lower()] = _period(period)
            except ValueError as exc:
                raise ValueError(f"{day}: {exc}") from None
        return {day: parsed.get(day) for day in WEEKDAYS}

    @model_validator(mode="after")
    def _unique_keys(self) -> "SupportConfig":
        keys = [reply.key for reply in self.canned_replies]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"canned reply keys repeated: {', '.join(repeated)}")
        return self

    @property
    def holiday_dates(self) -> frozenset[date]:
        return frozenset(h.date for h in self.holidays)


def parse_support(raw: Any, source: str = "content/support.yml") -> SupportConfig:
    """Check the file's content; SupportFileError lists every problem."""
    return parse_content(raw, SupportConfig, SupportFileError, source)


@lru_cache
def load_support(path: Path = SUPPORT_FILE) -> SupportConfig:
    """The file, read and checked once per process (per path)."""
    return read_content(path, SupportConfig, SupportFileError)


# --- opening hours ------------------------------------------------------------------------


def _period_on(config: SupportConfig, day: date) -> Period | None:
    if day in config.holiday_dates:
        return None
    return config.hours.get(WEEKDAYS[day.weekday()])


def _open_by_file(config: SupportConfig, now: datetime) -> bool:
    local = now.astimezone(WIB)
    period = _period_on(config, local.date())
    return period is not None and period.opens <= local.time() < period.closes


def open_at(now: datetime, config: SupportConfig | None = None) -> bool:
    """Whether agents are on duty at ``now`` (an aware datetime)."""
    if settings.SUPPORT_HOURS_ALWAYS_OPEN is not None:
        return settings.SUPPORT_HOURS_ALWAYS_OPEN
    return _open_by_file(config or load_support(), now)


def next_open(now: datetime, config: SupportConfig | None = None) -> datetime | None:
    """When support next opens after ``now`` (UTC), or None while it is open (or when the
    file has no opening in the next LOOKAHEAD_DAYS days)."""
    if open_at(now, config):
        return None
    config = config or load_support()
    local = now.astimezone(WIB)
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        period = _period_on(config, day)
        if period is None:
            continue
        opens = datetime.combine(day, period.opens, tzinfo=WIB)
        if opens > local:
            return opens.astimezone(UTC)
    return None


def open_label(moment: datetime, now: datetime) -> dict[str, str]:
    """``{"id": "Senin, 08.00 WIB", "en": "Monday, 08:00 WIB"}``; a day a week or more
    ahead also gets its date ("Senin 5 Apr, 08.00 WIB")."""
    local = moment.astimezone(WIB)
    far = (local.date() - now.astimezone(WIB).date()).days >= 7
    labels = {}
    for language, separator in (("id", "."), ("en", ":")):
        day = DAY_NAMES[language][local.weekday()]
        if far:
            day += f" {local.day} {MONTH_NAMES[language][local.month - 1]}"
        labels[language] = f"{day}, {local:%H}{separator}{local:%M} WIB"
    return labels


@dataclass(frozen=True)
class Availability:
    open: bool
    expected_wait_minutes: int
    next_open_at: datetime | None
    next_open_label: dict[str, str] | None


def availability(now: datetime, config: SupportConfig | None = None) -> Availability:
    config = config or load_support()
    is_open = open_at(now, config)
    opens = None if is_open else next_open(now, config)
    return Availability(
        open=is_open,
        expected_wait_minutes=config.expected_wait_minutes,
        next_open_at=opens,
        next_open_label=open_label(opens, now) if opens else None,
    )


def timeout_seconds(config: SupportConfig | None = None) -> int:
    """How long a waiting partner waits before the no-agent notice."""
    if settings.HANDOFF_TIMEOUT_SECONDS is not None:
        return settings.HANDOFF_TIMEOUT_SECONDS
    return (config or load_support()).no_agent_timeout_minutes * 60


def canned_replies(config: SupportConfig | None = None) -> list[CannedReply]:
    return list((config or load_support()).canned_replies)
