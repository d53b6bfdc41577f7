"""The notifier's pacing: the overall trigger rate, one trigger per partner per interval,
and the back-off after a failed trigger. Clocks are ``loop.time()``-style seconds."""

import asyncio
from collections.abc import Callable


class TokenBucket:
    """At most ``rate`` acquisitions per second, ``burst`` at once. Kept as the bucket's
    "theoretical arrival time" (GCRA): a token is taken only when it is there, so a
    caller that slept through a stall (a busy core) does not come back with a handful of
    tokens reserved earlier. With ``burst=1`` (the default) no one-second window holds
    more than ``rate`` + 1 acquisitions, which is what Meta's per-number throughput
    limit counts."""

    def __init__(self, rate: float, burst: int = 1, clock: Callable[[], float] | None = None):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.burst = max(1, burst)
        self._clock = clock or asyncio.get_running_loop().time
        self._tat = 0.0  # when the bucket would be full again

    def try_take(self) -> float:
        """Take a token if there is one (returns 0), else how long until there is one."""
        now = self._clock()
        tat = max(self._tat, now)
        allowed_at = tat - (self.burst - 1) * self.interval
        if allowed_at > now:
            return allowed_at - now
        self._tat = tat + self.interval
        return 0.0

    async def acquire(self) -> None:
        while (wait := self.try_take()) > 0:
            await asyncio.sleep(wait)


class PartnerSpacing:
    """At most one trigger per partner per ``interval`` seconds (WhatsApp error 131056,
    "pair rate limit": one business number to one user). ``planned`` spaces the
    notifier's plan; ``sent`` is the hard check right before a trigger goes out."""

    def __init__(self, interval: float, clock: Callable[[], float]):
        self.interval = interval
        self._clock = clock
        self._planned: dict[str, float] = {}  # wa_id -> earliest start for the next plan
        self._sent: dict[str, float] = {}  # wa_id -> when the last trigger went out

    def next_slot(self, wa_id: str, now: float) -> float:
        return max(now, self._planned.get(wa_id, now), self.earliest_send(wa_id, now))

    def plan(self, wa_id: str, at: float) -> None:
        self._planned[wa_id] = max(self._planned.get(wa_id, at), at + self.interval)

    def earliest_send(self, wa_id: str, now: float) -> float:
        last = self._sent.get(wa_id)
        return now if last is None else max(now, last + self.interval)

    async def before_send(self, wa_id: str) -> None:
        """Wait (rarely, briefly) until the partner may get another trigger; then stamp."""
        while True:
            now = self._clock()
            wait = self.earliest_send(wa_id, now) - now
            if wait <= 0:
                self._sent[wa_id] = now
                return
            await asyncio.sleep(wait)

    def forget_old(self, now: float) -> None:
        """Drop partners whose interval is over (keeps the maps small)."""
        for table in (self._planned, self._sent):
            stale = [wa for wa, at in table.items() if at + self.interval < now]
            for wa in stale:
                del table[wa]


def backoff_seconds(attempts: int, base: float = 1.0, cap: float = 300.0) -> float:
    """1 s after the first failed try, then 2 s, 4 s ... never more than ``cap``."""
    exponent = min(max(attempts - 1, 0), 30)
    return min(cap, base * (2**exponent))
