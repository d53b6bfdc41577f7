"""The notifier's loop: leased outbox rows → one ``EXTERNAL_notify`` trigger per partner
and group → ``handed``, or back to ``pending`` with back-off (docs/contracts.md, "Notices
the program sends first").

One round: lease up to ``batch`` due rows (the outbox applies the rules while leasing);
group each partner's rows by ``group_key`` (a row without one is a group of its own);
plan each group at the partner's next free slot (one trigger per partner per
``partner_interval``); dispatch the groups whose time has come, at most ``concurrency``
at once and ``max_per_second`` overall. A dispatched group triggers the intent with the
notice as a JSON string entity: one Rasa request per group. The notice says
``delivery=auto`` (the bot picks a free-form message inside WhatsApp's 24-hour window, the
approved template outside it) or ``template`` (WhatsApp answered 131047 before). Partners
in a hand-off are held back by the rules (``notifications.decide``); if one began since,
Rasa answers ``paused`` and the group goes back for ``WITH_AGENT_RETRY``.

Nothing is lost and nothing is sent twice:

- Rasa accepted (2xx) → ``handed``. Rasa down, slow (timeout) or 5xx → the rows go back
  to ``pending`` after 1 s, 2 s, 4 s ... (capped), and dispatching pauses briefly; a 4xx
  is logged and retried the same way (it needs a person: a model without the intent).
- A group the plan puts later than its lease allows goes back to ``pending`` with
  ``not_before`` at its slot, without counting as a try; so do the held groups on a
  graceful stop (SIGTERM/SIGINT: in-flight triggers finish first).
- A notifier that dies leaves its rows ``sending``; after ``lease_until`` the next one
  leases them again and triggers them with the same ids, which the bot skips when it
  already said them (the tracker keeps the ids).

Run it with ``python -m app.notifier``; one notifier per database (the per-partner
spacing is kept in memory).
"""

import asyncio
import heapq
import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.core.clock import utcnow
from app.core.config import Settings
from app.notifier.limits import PartnerSpacing, TokenBucket, backoff_seconds
from app.notifier.outbox import Outbox, describe
from app.services.notifications import LeasedGroup
from app.services.rasa_client import RasaClient, RasaUnavailable

log = logging.getLogger("app.notifier")

NOTIFY_INTENT = "EXTERNAL_notify"
NOTICE_ENTITY = "notice"
TEMPLATE = "template"
AUTO = "auto"  # the bot picks a free-form message or the template by the 24-hour window
MARKETING = "marketing"
# A partner talking to an agent (the conversation is paused, so Rasa would say nothing):
# their notices wait this long, then the notifier looks again (not counted as a try).
WITH_AGENT_RETRY = timedelta(minutes=5)

# Rasa unreachable or failing: dispatching pauses 1 s, 2 s, 4 s ... at most this long.
MAX_PAUSE_SECONDS = 30.0
STATS_EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class NotifierConfig:
    max_per_second: float = 80.0
    concurrency: int = 8
    batch: int = 200
    lease_seconds: float = 120.0
    idle_seconds: float = 1.0
    partner_interval: float = 6.0
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    # A group is triggered only while at least this much of its lease is left (so the
    # tracker read and the trigger, each up to Rasa's timeout, end inside the lease).
    lease_margin: float = 35.0

    @classmethod
    def from_settings(cls, config: Settings) -> "NotifierConfig":
        lease = config.NOTIFIER_LEASE_SECONDS
        return cls(
            max_per_second=config.NOTIFIER_MAX_PER_SECOND,
            concurrency=max(1, config.NOTIFIER_CONCURRENCY),
            batch=max(1, config.NOTIFIER_BATCH),
            lease_seconds=lease,
            idle_seconds=config.NOTIFIER_IDLE_SECONDS,
            partner_interval=config.NOTIFIER_PARTNER_INTERVAL_SECONDS,
            backoff_max=config.NOTIFIER_BACKOFF_MAX_SECONDS,
            lease_margin=min(lease / 2, 2 * config.RASA_TIMEOUT_SECONDS + 5),
        )


@dataclass
class Group:
    """One partner's leased notices that go out as one trigger (the outbox groups them by
    partner and ``group_key``), and when the plan lets it go."""

    leased: LeasedGroup
    lease_until: datetime
    due: float = 0.0  # loop time at which it may be triggered

    @property
    def wa_id(self) -> str:
        return self.leased.wa_id

    @property
    def ids(self) -> list[int]:
        return self.leased.ids

    @property
    def attempts(self) -> int:
        """Tries so far, this one included (a lease counts one)."""
        return max(notice.attempts for notice in self.leased.notices)

    @property
    def marketing(self) -> bool:
        return self.leased.category == MARKETING


def notice_json(payload: dict[str, Any]) -> str:
    """The ``notice`` entity's value: the payload as compact JSON text."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Stats:
    handed: int = 0
    retried: int = 0
    put_back: int = 0
    triggers: int = 0
    by_status: Counter[str] = field(default_factory=Counter)


class Notifier:
    def __init__(
        self,
        outbox: Outbox,
        client: RasaClient,
        config: NotifierConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.config = config
        self.clock = clock
        self.stats = Stats()
        self._loop_time: Callable[[], float] = time.monotonic
        self._heap: list[tuple[float, int, Group]] = []
        self._seq = itertools.count()
        self._held: set[int] = set()  # row ids in the plan or in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._next_lease = 0.0
        self._pause_until = 0.0
        self._down_streak = 0
        self._down_marked = -1.0  # loop time of the last failure that counted
        self._last_stats = 0.0
        self._next_sweep = 0.0
        self._bucket: TokenBucket | None = None
        self._spacing: PartnerSpacing | None = None

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; then in-flight triggers finish and held rows go back.
        Cancelled instead (a crash, for tests), it writes nothing more: leases expire."""
        loop = asyncio.get_running_loop()
        self._loop_time = loop.time
        self._wake = asyncio.Event()
        self._bucket = TokenBucket(self.config.max_per_second, clock=loop.time)
        self._spacing = PartnerSpacing(self.config.partner_interval, clock=loop.time)
        self._last_stats = loop.time()
        try:
            while not stop.is_set():
                self._wake.clear()
                now = loop.time()
                if self._may_lease(now):
                    await self._lease(now)
                await self._put_back_expiring(loop.time())
                self._dispatch(loop.time())
                self._log_stats(loop.time())
                await self._sleep(stop, self._next_wakeup(loop.time()))
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            raise
        await self._stop_gracefully()

    def _may_lease(self, now: float) -> bool:
        return (
            now >= self._next_lease
            and now >= self._pause_until
            and len(self._held) < self.config.batch
        )

    def _next_wakeup(self, now: float) -> float:
        moments = [now + self.config.idle_seconds]
        if len(self._held) < self.config.batch:
            moments.append(max(self._next_lease, self._pause_until))
        if self._heap and len(self._tasks) < self.config.concurrency:
            moments.append(max(self._heap[0][0], self._pause_until))
        return max(0.0, min(moments) - now)

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        assert self._wake is not None
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    # -- leasing and planning ------------------------------------------------------------

    async def _lease(self, now: float) -> None:
        limit = self.config.batch
        wall_now = self.clock()
        try:
            lease = await asyncio.to_thread(
                self.outbox.lease, now=wall_now, limit=limit,
                lease_seconds=self.config.lease_seconds,
                marketing_held=Counter(
                    entry[2].leased.partner_id for entry in self._heap if entry[2].marketing
                ),
            )  # fmt: skip
        except Exception:
            log.exception("leasing due notices failed; trying again")
            self._next_lease = now + max(self.config.idle_seconds, 1.0)
            return
        self._next_lease = now if lease.leased >= limit else now + self.config.idle_seconds
        assert self._spacing is not None
        self._spacing.forget_old(now)
        lease_until = wall_now + timedelta(seconds=self.config.lease_seconds)
        later: list[Group] = []
        for leased in lease.groups:
            if any(notice_id in self._held for notice_id in leased.ids):
                continue  # still ours (cannot happen while leases outlast the plan)
            group = Group(leased, lease_until)
            self._held.update(group.ids)
            due = self._spacing.next_slot(group.wa_id, now)
            group.due = due
            if self._wall(due) > self._deadline(group):
                later.append(group)
                continue
            self._spacing.plan(group.wa_id, due)
            self._push(group, due)
        if later:
            await self._put_back(later, "waiting for the partner's next slot")

    def _push(self, group: Group, due: float) -> None:
        group.due = due
        heapq.heappush(self._heap, (due, next(self._seq), group))

    def _deadline(self, group: Group) -> datetime:
        return group.lease_until - timedelta(seconds=self.config.lease_margin)

    def _wall(self, moment: float) -> datetime:
        return self.clock() + timedelta(seconds=moment - self._loop_time())

    async def _put_back_expiring(self, now: float) -> None:
        """Held groups that can no longer go out inside their lease (Rasa is down, or the
        partner's slot moved): back to ``pending``, not counted as a try."""
        if not self._heap or now < self._next_sweep:
            return
        self._next_sweep = now + 1.0
        wall_now = self.clock()
        expiring = [entry for entry in self._heap if self._deadline(entry[2]) <= wall_now]
        if not expiring:
            return
        self._heap = [entry for entry in self._heap if self._deadline(entry[2]) > wall_now]
        heapq.heapify(self._heap)
        for _, _, group in expiring:
            group.due = max(group.due, self._pause_until)
        await self._put_back([entry[2] for entry in expiring], "lease ran out while waiting")

    async def _put_back(self, groups: list[Group], reason: str) -> None:
        now = self.clock()
        for group in groups:
            not_before = max(now, self._wall(group.due))
            try:
                await asyncio.to_thread(
                    self.outbox.put_back, group.ids, not_before=not_before, reason=reason
                )
            except Exception:
                log.exception("could not put notices back; their lease will expire")
            self._held.difference_update(group.ids)
            self.stats.put_back += len(group.ids)

    # -- dispatching ---------------------------------------------------------------------

    def _dispatch(self, now: float) -> None:
        assert self._spacing is not None
        while (
            self._heap
            and self._heap[0][0] <= now
            and now >= self._pause_until
            and len(self._tasks) < self.config.concurrency
        ):
            _, _, group = heapq.heappop(self._heap)
            earliest = self._spacing.earliest_send(group.wa_id, now)
            if earliest > now:  # the partner's previous trigger went out late
                self._push(group, earliest)
                continue
            task = asyncio.create_task(self._deliver(group))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._wake is not None:
            self._wake.set()

    async def _deliver(self, group: Group) -> None:
        assert self._bucket is not None and self._spacing is not None
        started = self._loop_time()
        # The bot chooses a free-form message or the template by WhatsApp's 24-hour
        # window (it has the conversation at hand; reading it here would cost Rasa a
        # second request per notice), unless WhatsApp already asked for the template.
        delivery = group.leased.delivery or AUTO
        try:
            notice = notice_json(self.outbox.payload(group.leased, delivery))
            await self._bucket.acquire()
            await self._spacing.before_send(group.wa_id)
            self.stats.triggers += 1
            state = await self.client.trigger_intent(
                group.wa_id, NOTIFY_INTENT, output_channel="whatsapp",
                entities={NOTICE_ENTITY: notice},
            )  # fmt: skip
        except RasaUnavailable as exc:
            await self._failed(group, exc.rasa_status, exc.reason, started)
        except Exception as exc:
            log.exception("notice trigger failed", extra=describe(group.leased))
            await self._failed(group, 0, f"notifier error: {type(exc).__name__}", started)
        else:
            if started >= self._down_marked:
                self._down_streak = 0
            if state.get("paused"):
                # A hand-off began after the rules looked (they hold back partners with
                # an open one): Rasa kept the trigger but said nothing.
                group.due = self._loop_time() + WITH_AGENT_RETRY.total_seconds()
                await self._put_back([group], "the partner is talking to an agent")
                return
            await self._handed(group, None if delivery == AUTO else delivery, started)
        finally:
            self._held.difference_update(group.ids)

    async def _handed(self, group: Group, delivery: str | None, started: float) -> None:
        try:
            await asyncio.to_thread(
                self.outbox.handed, group.ids, delivery=delivery, now=self.clock()
            )
        except Exception:
            # Rasa has the turn; the lease will expire and the trigger repeat, and the bot
            # skips ids it already said.
            log.exception("could not mark notices handed", extra=describe(group.leased))
            return
        self.stats.handed += len(group.ids)
        log.debug(
            "notice handed to the bot",
            extra={
                **describe(group.leased),
                "delivery": delivery,
                "ms": round((self._loop_time() - started) * 1000, 1),
            },
        )

    async def _failed(self, group: Group, status: int | None, reason: str, started: float) -> None:
        """Rasa did not take the notice.

        - Not reached or no answer in time (``status`` None): Rasa is down or swamped. The
          rows wait 1 s, 2 s, 4 s ... (doubling while Rasa stays down, up to
          ``backoff_max``) and that try does not count: an outage of any length loses
          nothing. Dispatching pauses as long.
        - An error answer (5xx): the rows back off by their own tries (counted, so a
          notice that always breaks the turn ends ``failed`` after the outbox's
          ``MAX_ATTEMPTS``), and dispatching pauses as above.
        - A refusal (4xx) or the notifier's own error (``status`` 0): the rows back off
          by their own tries, counted; no pause.
        """
        self.stats.by_status["down" if status is None else str(status)] += 1
        if status is None or status >= 500:
            if started >= self._down_marked:  # a fresh try failed, not one from before
                self._down_streak += 1
                self._down_marked = self._loop_time()
            pause = backoff_seconds(
                self._down_streak, self.config.backoff_base, self.config.backoff_max
            )
            self._pause_until = max(self._pause_until, self._loop_time() + pause)
        if status is None:
            delay = backoff_seconds(
                self._down_streak, self.config.backoff_base, self.config.backoff_max
            )
        else:
            delay = backoff_seconds(
                group.attempts, self.config.backoff_base, self.config.backoff_max
            )
        log.warning(
            "rasa did not take the notice; trying again later",
            extra={
                **describe(group.leased),
                "rasa_status": status,
                "reason": reason,
                "attempts": group.attempts,
                "retry_in_s": delay,
            },
        )
        error = f"rasa: {reason}"
        try:
            if status is None:
                not_before = self.clock() + timedelta(seconds=delay)
                await asyncio.to_thread(
                    self.outbox.put_back, group.ids, not_before=not_before, reason=error
                )
            else:
                await asyncio.to_thread(
                    self.outbox.retry, group.ids, delay_seconds=delay,
                    error_code=status or None, error=error, now=self.clock(),
                )  # fmt: skip
        except Exception:
            log.exception("could not schedule the retry; the lease will expire instead")
            return
        self.stats.retried += len(group.ids)

    # -- stopping ------------------------------------------------------------------------

    async def _stop_gracefully(self) -> None:
        in_flight = len(self._tasks)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        waiting = [entry[2] for entry in self._heap]
        self._heap = []
        if waiting:
            for group in waiting:
                group.due = self._loop_time()
            await self._put_back(waiting, "notifier stopping")
        log.info(
            "notifier stopped",
            extra={"finished_in_flight": in_flight, "groups_put_back": len(waiting)},
        )

    def _log_stats(self, now: float) -> None:
        if now - self._last_stats < STATS_EVERY_SECONDS:
            return
        seconds = now - self._last_stats
        self._last_stats = now
        log.info(
            "notifier progress",
            extra={
                "triggers_per_s": round(self.stats.triggers / seconds, 1),
                "handed": self.stats.handed,
                "retried": self.stats.retried,
                "put_back": self.stats.put_back,
                "held": len(self._held),
                "in_flight": len(self._tasks),
                "refused": dict(self.stats.by_status),
            },
        )
        self.stats.triggers = 0


async def run_until_stopped(
    outbox: Outbox, client: RasaClient, config: NotifierConfig, stop: asyncio.Event
) -> Notifier:
    notifier = Notifier(outbox, client, config)
    async with client:
        await notifier.run(stop)
    return notifier
