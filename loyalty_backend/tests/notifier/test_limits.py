"""The notifier's pacing and back-off, on a clock the test moves."""

import asyncio

from app.notifier.limits import PartnerSpacing, TokenBucket, backoff_seconds


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
