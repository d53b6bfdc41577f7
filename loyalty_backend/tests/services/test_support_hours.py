"""content/support.yml: opening hours (WIB), holidays, overrides and the file's checks."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.core.clock import WIB
from app.core.config import settings
from app.services import support_hours
from app.services.support_hours import SupportFileError, parse_support

BASE = {
    "hours": {
        "monday": "08:00-17:00",
        "tuesday": "08:00-17:00",
        "wednesday": "08:00-17:00",
        "thursday": "08:00-17:00",
        "friday": "08:00-17:00",
        "saturday": "08:00-12:00",
        "sunday": "closed",
    },
    "holidays": [{"date": "2026-12-25", "name": "Natal"}],
    "no_agent_timeout_minutes": 10,
    "expected_wait_minutes": 5,
    "canned_replies": [{"key": "hi", "title": "Hi", "text": {"id": "Halo", "en": "Hello"}}],
}


@pytest.fixture
def db() -> None:
    """No database needed: run once, not once per backend."""


@pytest.fixture(autouse=True)
def file_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "SUPPORT_HOURS_ALWAYS_OPEN", None)
    monkeypatch.setattr(settings, "HANDOFF_TIMEOUT_SECONDS", None)


CONFIG = parse_support(BASE)


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=WIB)  # type: ignore[misc]


def test_the_committed_file_is_valid() -> None:
    config = support_hours.load_support()
    assert config.no_agent_timeout_minutes == 10 and config.expected_wait_minutes == 5
    replies = config.canned_replies
    assert len(replies) >= 6 and all(r.text.id and r.text.en for r in replies)
    assert config.hours["sunday"] is None and config.hours["saturday"] is not None


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (wib(2026, 11, 30, 8, 0), True),  # Monday 08:00
        (wib(2026, 11, 30, 7, 59), False),
        (wib(2026, 11, 30, 16, 59), True),
        (wib(2026, 11, 30, 17, 0), False),  # closes at 17:00
        (wib(2026, 12, 5, 11, 30), True),  # Saturday morning
        (wib(2026, 12, 5, 12, 0), False),
        (wib(2026, 12, 6, 10, 0), False),  # Sunday
        (wib(2026, 12, 25, 10, 0), False),  # a holiday (Friday)
        (datetime(2026, 11, 30, 1, 0, tzinfo=UTC), True),  # 08:00 WIB
    ],
)
def test_open_at(moment: datetime, is_open: bool) -> None:
    assert support_hours.open_at(moment, CONFIG) is is_open


def test_next_open_and_its_labels() -> None:
    saturday_noon = wib(2026, 12, 5, 12, 30)
    opens = support_hours.next_open(saturday_noon, CONFIG)
    assert opens == wib(2026, 12, 7, 8, 0)  # Monday
    assert opens is not None and opens.tzinfo == UTC
    assert support_hours.open_label(opens, saturday_noon) == {
        "id": "Senin, 08.00 WIB",
        "en": "Monday, 08:00 WIB",
    }
    # Christmas Eve evening: Friday is a holiday, so Saturday 08:00.
    assert support_hours.next_open(wib(2026, 12, 24, 18, 0), CONFIG) == wib(2026, 12, 26, 8, 0)
    assert support_hours.next_open(wib(2026, 11, 30, 9, 0), CONFIG) is None  # open now
    far = support_hours.open_label(wib(2026, 12, 14, 8, 0), wib(2026, 12, 5, 13, 0))
    assert far == {"id": "Senin 14 Des, 08.00 WIB", "en": "Monday 14 Dec, 08:00 WIB"}


def test_availability() -> None:
    closed = support_hours.availability(wib(2026, 12, 6, 10, 0), CONFIG)
    assert closed.open is False and closed.expected_wait_minutes == 5
    assert closed.next_open_label == {"id": "Senin, 08.00 WIB", "en": "Monday, 08:00 WIB"}
    opened = support_hours.availability(wib(2026, 12, 7, 10, 0), CONFIG)
    assert opened.open and opened.next_open_at is None and opened.next_open_label is None


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    sunday = wib(2026, 12, 6, 10, 0)
    monday = wib(2026, 12, 7, 10, 0)
    monkeypatch.setattr(settings, "SUPPORT_HOURS_ALWAYS_OPEN", True)
    assert support_hours.open_at(sunday, CONFIG)
    assert support_hours.next_open(sunday, CONFIG) is None
    monkeypatch.setattr(settings, "SUPPORT_HOURS_ALWAYS_OPEN", False)
    assert not support_hours.open_at(monday, CONFIG)
    assert support_hours.next_open(monday, CONFIG) == wib(2026, 12, 8, 8, 0)
    assert support_hours.timeout_seconds(CONFIG) == 600
    monkeypatch.setattr(settings, "HANDOFF_TIMEOUT_SECONDS", 3)
    assert support_hours.timeout_seconds(CONFIG) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hours": {"monday": "8-17"}}, "hours: Value error, monday: '8-17' is not HH:MM-HH:MM"),
        ({"hours": {"monday": "17:00-08:00"}}, "closes before it opens"),
        ({"hours": {"funday": "08:00-17:00"}}, "unknown weekday(s) funday"),
        ({"no_agent_timeout_minutes": 0}, "no_agent_timeout_minutes: Input should be greater"),
        ({"canned_replies": []}, "canned_replies: List should have at least 1 item"),
        (
            {"canned_replies": [{"key": "a", "title": "A", "text": {"id": "x"}}]},
            "canned_replies.0.text.en: Field required",
        ),
        ({"holidays": [{"date": "soon"}]}, "holidays.0.date"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_named(change: dict, message: str) -> None:
    with pytest.raises(SupportFileError) as error:
        parse_support({**BASE, **change}, "content/support.yml")
    assert str(error.value).startswith("content/support.yml: ")
    assert message in str(error.value)


def test_unreadable_files(tmp_path: Path) -> None:
    broken = tmp_path / "support.yml"
    broken.write_text("hours: [", encoding="utf-8")
    with pytest.raises(SupportFileError, match="not valid YAML"):
        support_hours.load_support(broken)
    with pytest.raises(SupportFileError, match="cannot be read"):
        support_hours.load_support(tmp_path / "missing.yml")


def test_holiday_dates() -> None:
    assert CONFIG.holiday_dates == frozenset({date(2026, 12, 25)})
