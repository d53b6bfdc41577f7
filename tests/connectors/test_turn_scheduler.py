"""The turn scheduler on its own: order per sender, bounded concurrency, timeouts,
retries with back-off, the last-resort apology, and what it tells its store."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from connectors.turn_scheduler import Job, TurnPolicy, TurnScheduler
from connectors.whatsapp_payloads import InboundMessage
from tests.connectors.wa_helpers import TurnRecorder, wait_until

FAST = TurnPolicy(attempts=3, base_delay=0.02, max_delay=0.1, timeout=5)


def message(sender: str, text: str) -> InboundMessage:
    return InboundMessage(
        message_id=f"wamid.{uuid.uuid4().hex}", sender_id=sender, type="text", text=text
    )


def job(sender: str, text: str, attempts: int = 0) -> Job:
    return Job(message(sender, text), ref=text, attempts=attempts)


@dataclass
class MemoryStore:
    """A JobStore that only remembers what it was told."""

    owned: bool = True
    fail_attempt: bool = False
    attempts: Counter[str] = field(default_factory=Counter)
    done_jobs: list[str] = field(default_factory=list)
    failed_jobs: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def may_run(self, job: Job) -> bool:
        return self.owned

    async def attempt(self, job: Job) -> int:
        if self.fail_attempt:
            raise OSError("disk full")
        self.attempts[job.ref] += 1
        return job.attempts + 1

    async def done(self, job: Job) -> None:
        self.done_jobs.append(job.ref)

    async def failed(self, job: Job) -> None:
        self.failed_jobs.append(job.ref)

    def release(self, job: Job) -> None:
        self.released.append(job.ref)


@dataclass
class Apologies:
    calls: list[tuple[str, BaseException | None]] = field(default_factory=list)

    async def __call__(self, message: InboundMessage, error: BaseException | None) -> None:
        self.calls.append((message.text or "", error))


def scheduler(
    handler: Any, store: MemoryStore, give_up: Any = None, **kwargs: Any
) -> TurnScheduler:
    kwargs.setdefault("policy", FAST)
    return TurnScheduler(handler, give_up or Apologies(), store, **kwargs)


async def test_one_sender_in_order_while_senders_run_concurrently() -> None:
    # Earlier messages are slower, so any reordering or overlap would show.
    recorder = TurnRecorder(delays={f"a{i}": 0.03 - i * 0.005 for i in range(5)})
    store = MemoryStore()
    turns = scheduler(recorder, store)
    for i in range(5):
        turns.submit(job("a", f"a{i}"))
        turns.submit(job(f"other{i}", "x"))
    await wait_until(lambda: len(recorder.turns) == 10)
    assert recorder.texts_for("a") == [f"a{i}" for i in range(5)]
    assert recorder.max_active_per_sender == 1
    assert recorder.max_active > 1
    await wait_until(lambda: len(store.done_jobs) == 10)
    assert store.failed_jobs == [] and sorted(store.released) == sorted(store.done_jobs)
    await turns.close()


async def test_workers_exit_when_idle_and_restart_on_new_jobs() -> None:
    recorder = TurnRecorder(delay=0.01)
    turns = scheduler(recorder, MemoryStore())
    for i in range(3):
        turns.submit(job("a", f"a{i}"))
    turns.submit(job("b", "b0"))
    assert turns.active_senders == 2 and turns.pending == 4
    await wait_until(lambda: turns.active_senders == 0)
    assert turns.pending == 0
    turns.submit(job("a", "a3"))
    await wait_until(lambda: len(recorder.turns) == 5)
    assert recorder.texts_for("a") == ["a0", "a1", "a2", "a3"]
    await turns.close()


async def test_concurrency_is_bounded() -> None:
    recorder = TurnRecorder(delay=0.02)
    turns = scheduler(recorder, MemoryStore(), max_concurrency=3)
    for i in range(12):
        turns.submit(job(f"s{i}", "x"))
    await wait_until(lambda: len(recorder.turns) == 12)
    assert recorder.max_active == 3
    await turns.close()


async def test_turn_timeout_frees_the_sender() -> None:
    recorder = TurnRecorder(delays={"stuck": 10})
    store, apologies = MemoryStore(), Apologies()
    policy = TurnPolicy(attempts=1, timeout=0.05)
    turns = scheduler(recorder, store, apologies, policy=policy)
    turns.submit(job("a", "stuck"))
    turns.submit(job("a", "next"))
    await wait_until(lambda: store.done_jobs == ["next"])
    assert recorder.texts_for("a") == ["next"]
    assert [m.text for m in recorder.started] == ["stuck", "next"]  # in order, not skipped
    assert store.failed_jobs == ["stuck"]
    ((text, error),) = apologies.calls
    assert text == "stuck" and isinstance(error, asyncio.TimeoutError)
    await turns.close()


async def test_failed_turn_is_retried_with_back_off() -> None:
    started: list[float] = []

    async def flaky(message: InboundMessage) -> None:
        started.append(time.monotonic())
        if len(started) < 3:
            raise RuntimeError("tracker store hiccup")

    store, apologies = MemoryStore(), Apologies()
    turns = scheduler(flaky, store, apologies)
    turns.submit(job("a", "halo"))
    await wait_until(lambda: store.done_jobs == ["halo"])
    assert len(started) == 3 and store.attempts["halo"] == 3
    gaps = [later - earlier for earlier, later in zip(started, started[1:], strict=False)]
    assert gaps[0] >= FAST.base_delay * 0.9 and gaps[1] >= 2 * FAST.base_delay * 0.9, gaps
    assert apologies.calls == [] and store.failed_jobs == []
    await turns.close()


async def test_gives_up_after_the_last_attempt_and_goes_on_with_the_sender() -> None:
    seen: list[str] = []

    async def broken(message: InboundMessage) -> None:
        seen.append(message.text or "")
        if message.text == "boom":
            raise RuntimeError("always")

    store, apologies = MemoryStore(), Apologies()
    turns = scheduler(broken, store, apologies)
    turns.submit(job("a", "boom"))
    turns.submit(job("a", "after"))
    await wait_until(lambda: store.done_jobs == ["after"])
    assert seen == ["boom", "boom", "boom", "after"]
    assert store.failed_jobs == ["boom"]
    ((text, error),) = apologies.calls
    assert text == "boom" and isinstance(error, RuntimeError)
    await turns.close()


async def test_job_whose_attempts_are_used_up_is_not_run_again() -> None:
    """A message that took the process down during every attempt ends with the apology."""
    recorder, store, apologies = TurnRecorder(), MemoryStore(), Apologies()
    turns = scheduler(recorder, store, apologies)
    turns.submit(job("a", "poison", attempts=FAST.attempts))
    turns.submit(job("a", "fine", attempts=FAST.attempts - 1))  # one try left
    await wait_until(lambda: store.done_jobs == ["fine"])
    assert recorder.texts_for("a") == ["fine"]
    assert store.failed_jobs == ["poison"] and apologies.calls == [("poison", None)]
    await turns.close()


async def test_a_job_handed_over_to_another_instance_is_left_alone() -> None:
    recorder, store = TurnRecorder(), MemoryStore(owned=False)
    turns = scheduler(recorder, store)
    turns.submit(job("a", "not mine"))
    await wait_until(lambda: store.released == ["not mine"])
    assert recorder.started == [] and store.done_jobs == [] and store.failed_jobs == []
    assert store.attempts == Counter()
    await turns.close()


async def test_a_store_failure_does_not_stop_the_sender() -> None:
    recorder, store = TurnRecorder(), MemoryStore(fail_attempt=True)
    turns = scheduler(recorder, store)
    turns.submit(job("a", "1"))
    turns.submit(job("a", "2"))
    await wait_until(lambda: store.released == ["1", "2"])
    assert recorder.started == [] and store.done_jobs == [] and store.failed_jobs == []
    await turns.close()


async def test_close_cancels_turns_that_do_not_finish_and_leaves_them_stored() -> None:
    recorder, store = TurnRecorder(delay=10), MemoryStore()
    turns = scheduler(recorder, store)
    turns.submit(job("a", "1"))
    turns.submit(job("a", "2"))
    await wait_until(lambda: len(recorder.started) == 1)
    await turns.close(timeout=0.05)
    assert turns.pending == 0 and turns.active_senders == 0
    assert recorder.turns == [] and store.done_jobs == [] and store.failed_jobs == []
    assert sorted(store.released) == ["1", "2"]
    turns.submit(job("a", "3"))  # closed: ignored, the queue keeps it for the next start
    assert turns.pending == 0
