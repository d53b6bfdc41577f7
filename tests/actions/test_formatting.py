from datetime import datetime, timezone

from actions.formatting import format_date, format_datetime, format_points, month_start_wib


def test_points_use_the_language_thousands_separator():
    assert format_points(1250000, "id") == "1.250.000"
    assert format_points(1250000, "en") == "1,250,000"
    assert format_points(-500, "id") == "-500"
    assert format_points(0, "en") == "0"


def test_dates_are_shown_in_wib():
    # 20:30 UTC on 31 Dec is already 1 Jan 03:30 in Jakarta (UTC+7).
    assert format_date("2026-12-31T20:30:00+00:00", "id") == "1 Jan 2027"
    assert format_datetime("2026-12-31T20:30:00Z", "en") == "1 Jan 2027 03:30"
    assert format_date("2026-08-17", "id") == "17 Agu 2026"


def test_month_start_is_computed_in_wib():
    late_utc = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)  # 1 Dec 01:00 WIB
    assert month_start_wib(late_utc).isoformat() == "2026-12-01"
