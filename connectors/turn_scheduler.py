"""Runs the Rasa turn of each queued message: in order per sender, concurrently across
senders, with a timeout, retries with back-off, and a last resort when every try failed.

The scheduler keeps no state that matters after a crash: the queue that feeds it (SQLite
journal or Redis stream, see ``connectors.inbound_queue``) records each attempt before it
starts and the outcome after it ends, through the ``JobStore`` it is given. A job whose
process died is fed again on restart with the attempts it already used, so a message that
kills the process every time ends with the apology instead of a crash loop.

Rasa's lock store polls once a second when a conversation's lock is contended, so
serialising a sender's messages here, instead of letting Rasa's lock do it, keeps
back-to-back messages fast.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from connectors.masking import mask_id
from connectors.whatsapp_payloads import InboundMessage

logger = structlog.get_logger(__name__)

Handler = Callable[[InboundMessage], Awaitable[None]]
# Called once when every attempt failed: tells the partner (the error may be a timeout).
GiveUp = Callable[[InboundMessage, BaseException | None], Awaitable[None]]


@dataclass(frozen=True)
class TurnPolicy:
    """How long one turn may take and how often it is tried."""

    attempts: int = 3
    base_delay: float = 1.0  # before the 2nd attempt; doubles after each failure
    max_delay: float = 30.0
    timeout: float | None = 300.0

    def delay(self, failed_attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** max(0, failed_attempt - 1)))


DEFAULT_POLICY = TurnPolicy()


@dataclass
class Job:
    message: InboundMessage
    ref: Any  # where the queue keeps it: a journal row, a stream entry
    attempts: int = 0  # attempts already started, by this process or an earlier one


class JobStore(Protocol):
    """What the queue behind the scheduler records about each job."""

    def may_run(self, job: Job) -> bool:
        """False when the job now belongs to another instance (it is left alone)."""

    async def attempt(self, job: Job) -> int:
        """Record that an attempt starts; returns its number (1 for the first)."""

    async def done(self, job: Job) -> None:
        """The turn ran: never run it again (a redelivery is a duplicate)."""

    async def failed(self, job: Job) -> None:
        """Every attempt failed and the partner was told: forget the message id, so a
        redelivery by Meta (which only happens if our 200 never reached it) is tried anew."""

    def release(self, job: Job) -> None:
        """The scheduler is done with the job (run, failed, handed over or cancelled)."""


class TurnScheduler:
    """One deque and one worker task per sender with jobs; a worker exits when idle."""

    def __init__(
        self,
        handler: Handler,
        give_up: GiveUp,
        store: JobStore,
        *,
        policy: TurnPolicy = DEFAULT_POLICY,
        max_concurrency: int = 64,
    ) -> None:
        self._handler = handler
        self._give_up = give_up
        self._store = store
        self._policy = policy
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._pending = 0
        self._closed = False

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished (running turns included)."""
        return self._pending

    @property
    def active_senders(self) -> int:
        return len(self._workers)

    def submit(self, job: Job) -> None:
        if self._closed:
            return  # stays in the store; the next start (or owner) runs it
        key = job.message.sender_id
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(job)
        self._pending += 1
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key, queue))

    async def _work(self, key: str, queue: deque[Job]) -> None:
        try:
            while queue:
                job = queue[0]
                try:
                    await self._process(job)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The store failed (disk, Redis): the job stays stored and runs
                    # again after a restart; this sender's later messages go on.
                    logger.exception(
                        "whatsapp.queue.job_error",
                        sender=mask_id(key),
                        message_id=job.message.message_id,
                    )
                finally:
                    queue.popleft()
                    self._pending -= 1
                    self._store.release(job)
        finally:
            # No await between the emptiness check and this cleanup, so a job submitted
            # meanwhile always finds either this worker or none.
            if self._queues.get(key) is queue:
                del self._queues[key]
                self._pending -= len(queue)
                for job in queue:  # only when cancelled: they stay stored
                    self._store.release(job)
            self._workers.pop(key, None)

    async def _process(self, job: Job) -> None:
        message = job.message
        log = logger.bind(sender=mask_id(message.sender_id), message_id=message.message_id)
        error: BaseException | None = None
        attempt = job.attempts
        while attempt < self._policy.attempts:
            if not self._store.may_run(job):
                log.info("whatsapp.turn.handed_over")
                return
            attempt = job.attempts = await self._store.attempt(job)
            try:
                async with self._semaphore:
                    await asyncio.wait_for(self._handler(message), self._policy.timeout)
            except asyncio.CancelledError:
                raise
            except asyncio.TimeoutError as exc:
                error = exc
                log.warning("whatsapp.turn.timeout", attempt=attempt, timeout=self._policy.timeout)
            except Exception as exc:
                error = exc
                log.warning("whatsapp.turn.failed", attempt=attempt, exc_info=True)
            else:
                await self._store.done(job)
                return
            if attempt < self._policy.attempts:
                await asyncio.sleep(self._policy.delay(attempt))
        log.error(
            "whatsapp.turn.gave_up",
            attempts=attempt,
            error=_describe(error),
        )
        try:
            await self._give_up(message, error)
        except Exception:
            log.exception("whatsapp.turn.apology_failed")
        await self._store.failed(job)

    async def close(self, timeout: float = 10.0) -> None:
        """Take no more jobs; let running ones finish for up to ``timeout`` seconds, then
        cancel them (they stay stored as pending and run after the next start)."""
        self._closed = True
        workers = list(self._workers.values())
        if not workers:
            return
        _, still_running = await asyncio.wait(workers, timeout=timeout)
        if still_running:
            logger.warning(
                "whatsapp.queue.shutdown_interrupted",
                senders=len(still_running),
                pending=self._pending,
            )
            for task in still_running:
                task.cancel()
            await asyncio.gather(*still_running, return_exceptions=True)


def _describe(error: BaseException | None) -> str | None:
    if error is None:
        return "the process stopped during every attempt"
    if isinstance(error, asyncio.TimeoutError):
        return "timeout"
    return f"{type(error).__name__}: {error}"
