"""Time helpers: everything is stored and returned in UTC; partners' calendar is WIB."""

from datetime import UTC, date, datetime, time, timedelta, timezone

# Partners read dates in Western Indonesian Time (Asia/Jakarta, UTC+7, no DST). Calendar
# dates in the API (expiring_soon_date, window_start, ?since=) are WIB dates.
WIB = timezone(timedelta(hours=7), "WIB")


def utcnow() -> datetime:
    return datetime.now(UTC)


def wib_date(moment: datetime) -> date:
    """The WIB calendar date of an aware datetime."""
    return moment.astimezone(WIB).date()


def wib_start_of_day(day: date) -> datetime:
    """00:00 WIB on ``day``, as an aware UTC datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=WIB).astimezone(UTC)


def wib_end_of_day(day: date) -> datetime:
    """The last instant of ``day`` in WIB (23:59:59.999999 WIB), as an aware UTC datetime.

    Stored and compared at microsecond precision (both databases keep microseconds).
    """
    return datetime.combine(day, time.max, tzinfo=WIB).astimezone(UTC)
