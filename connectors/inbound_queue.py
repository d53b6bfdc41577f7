"""Where accepted inbound messages wait for their Rasa turn.

The webhook puts each accepted message here before answering 200; the queue runs
the handler (one Rasa turn) for each message, in order per sender and concurrently
across senders. Rasa's lock store polls once a second when a conversation's lock
is contended, so serialising a sender's messages here, instead of letting Rasa's
lock do it, keeps back-to-back messages fast.

``InMemoryInboundQueue`` loses what is pending if the process dies. The seam is
this interface: a Redis-stream implementation (later issue) writes the message
to a stream in ``put`` and acknowledges it there after the handler returns.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from connectors.masking import mask_id
from connectors.whatsapp_payloads import InboundMessage

logger = structlog.get_logger(__name__)

Handler = Callable[[InboundMessage], Awaitable[None]]


class QueueFullError(RuntimeError):
    """The queue holds too many pending messages; the webhook asks Meta to retry."""


class QueueClosedError(RuntimeError):
    """The queue is shutting down and accepts nothing more."""


class InboundQueue(ABC):
    """Accepts messages and runs the handler for each: ordered per sender."""

    @abstractmethod
    async def put(self, message: InboundMessage) -> None:
        """Accept a message. Returns once it is safely queued (before the webhook's 200).

        Raises ``QueueFullError`` or ``QueueClosedError`` when it cannot accept it.
        """

    @abstractmethod
    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting; let running turns finish for up to ``timeout`` seconds."""

    @property
    @abstractmethod
    def pending(self) -> int:
        """Messages accepted but not yet handled (running turns included)."""


class InMemoryInboundQueue(InboundQueue):
    """One deque and one worker task per active sender; a worker exits when idle."""

    def __init__(
        self,
        handler: Handler,
        *,
        max_pending: int = 10_000,
        max_concurrency: int = 64,
        turn_timeout: float | None = 300.0,
    ) -> None:
        self._handler = handler
        self._max_pending = max_pending
        self._turn_timeout = turn_timeout
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._queues: dict[str, deque[InboundMessage]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._pending = 0
        self._closed = False

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def active_senders(self) -> int:
        return len(self._workers)

    async def put(self, message: InboundMessage) -> None:
        if self._closed:
            raise QueueClosedError("inbound queue is closed")
        if self._pending >= self._max_pending:
            raise QueueFullError(f"{self._pending} messages pending")
        key = message.sender_id
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(message)
        self._pending += 1
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key, queue))

    async def _work(self, key: str, queue: deque[InboundMessage]) -> None:
        try:
            while queue:
                message = queue[0]
                try:
                    async with self._semaphore:
                        await asyncio.wait_for(self._handler(message), self._turn_timeout)
                except asyncio.CancelledError:
                    raise
                except asyncio.TimeoutError:
                    logger.error(
                        "whatsapp.turn.timeout",
                        sender=mask_id(key),
                        message_id=message.message_id,
                        timeout=self._turn_timeout,
                    )
                except Exception:
                    # One failing turn must not stop this sender's later messages.
                    logger.exception(
                        "whatsapp.turn.failed", sender=mask_id(key), message_id=message.message_id
                    )
                finally:
                    queue.popleft()
                    self._pending -= 1
        finally:
            # No await between the emptiness check and this cleanup, so a message
            # put meanwhile always finds either this worker or none.
            if self._queues.get(key) is queue:
                del self._queues[key]
                self._pending -= len(queue)
            self._workers.pop(key, None)

    async def close(self, timeout: float = 10.0) -> None:
        self._closed = True
        workers = list(self._workers.values())
        if not workers:
            return
        _, still_running = await asyncio.wait(workers, timeout=timeout)
        if still_running:
            logger.warning(
                "whatsapp.queue.shutdown_dropped",
                senders=len(still_running),
                pending=self._pending,
            )
            for task in still_running:
                task.cancel()
            await asyncio.gather(*still_running, return_exceptions=True)
