"""The notifier's pacing and back-off, on a clock the test moves."""

import asyncio
from datetime import UTC, datetime, timedelta

from app.notifier.limits import PartnerSpacing, TokenBucket, backoff_seconds
from app.notifier.loop import choose_delivery
from app.services.transcript import last_partner_message_at


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_gives_one_token_per_interval_and_none_saved_up() -> None:
    clock = Clock()
    bucket = TokenBucket(10.0, clock=clock)
    assert bucket.try_take() == 0
    assert 0.099 < bucket.try_take() <= 0.1  # the next one in 0.1 s
    clock.now += 0.1
    assert bucket.try_take() == 0
    clock.now += 5.0  # idle for a while (or a stall): still only one at once
    assert bucket.try_take() == 0
    assert bucket.try_take() > 0


def test_a_burst_allows_that_many_at_once() -> None:
    clock = Clock()
    bucket = TokenBucket(10.0, burst=3, clock=clock)
    assert [bucket.try_take() == 0 for _ in range(4)] == [True, True, True, False]


def test_back_off_doubles_up_to_the_cap() -> None:
    assert [backoff_seconds(n) for n in range(1, 12)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300,
    ]  # fmt: skip
    assert backoff_seconds(0) == 1
    assert backoff_seconds(3, base=0.5, cap=1.5) == 1.5


def test_partner_spacing_plans_and_enforces_the_interval() -> None:
    clock = Clock()
    spacing = PartnerSpacing(6.0, clock)
    assert spacing.next_slot("a", clock.now) == clock.now
    spacing.plan("a", clock.now)
    assert spacing.next_slot("a", clock.now) == clock.now + 6
    assert spacing.next_slot("b", clock.now) == clock.now
    asyncio.run(spacing.before_send("a"))
    assert spacing.earliest_send("a", clock.now) == clock.now + 6
    clock.now += 7
    spacing.forget_old(clock.now)
    assert spacing.next_slot("a", clock.now) == clock.now


def test_delivery_is_session_only_inside_24_hours_of_the_last_message() -> None:
    now = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    events = [
        {"event": "user", "timestamp": (now - timedelta(hours=30)).timestamp()},
        {"event": "user", "timestamp": (now - timedelta(hours=2)).timestamp()},
        {"event": "bot", "timestamp": now.timestamp()},
    ]
    last = last_partner_message_at(events)
    assert last == now - timedelta(hours=2)
    assert choose_delivery(last, now) == "session"
    assert choose_delivery(last, now + timedelta(hours=22, minutes=1)) == "template"
    assert choose_delivery(last_partner_message_at([]), now) == "template"
    assert last_partner_message_at([{"event": "bot", "timestamp": now.timestamp()}]) is None
