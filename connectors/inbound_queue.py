"""The durable inbound queue: where an accepted message waits for its Rasa turn.

The webhook stores every new message of a body here *before* it answers 200, and the
queue marks it done only after its turn. So a crash, a ``kill -9`` or a deploy never
loses a message Meta was told we received (Meta does not resend what got a 200); a
restarted instance resumes what was pending, in order per sender, once. Storing the
message id is also what de-duplicates Meta's redeliveries.

Two implementations, chosen by configuration (``build_inbound_queue``):

- ``connectors.sqlite_queue.SqliteInboundQueue`` (default, one instance): an embedded
  SQLite journal (``WHATSAPP_QUEUE_PATH``), WAL mode.
- ``connectors.redis_queue.RedisStreamQueue`` (``WHATSAPP_QUEUE_REDIS_URL`` set, several
  instances): Redis streams with a consumer group, partitioned by sender.

Both run turns through ``connectors.turn_scheduler.TurnScheduler``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from connectors.whatsapp_payloads import InboundMessage

if TYPE_CHECKING:
    from connectors.config import WhatsAppConfig
    from connectors.turn_scheduler import GiveUp, Handler

logger = structlog.get_logger(__name__)

SENDER_FULL = "sender has too many pending messages"
QUEUE_FULL = "queue full"


class QueueClosedError(RuntimeError):
    """The queue is shutting down and accepts nothing more (→ 503, Meta retries)."""


class QueueUnavailableError(RuntimeError):
    """The message could not be stored (disk or Redis failure) (→ 503, Meta retries)."""


@dataclass(frozen=True)
class QueueLimits:
    """Caps on pending messages. The per-sender cap keeps one sender (a loop, a flood)
    from filling the whole queue, so everyone else still gets through."""

    max_pending: int = 10_000
    max_pending_per_sender: int = 50


DEFAULT_LIMITS = QueueLimits()


@dataclass
class Admission:
    """What ``put`` did with each message of a webhook body."""

    accepted: list[InboundMessage] = field(default_factory=list)
    duplicates: list[InboundMessage] = field(default_factory=list)
    refused: list[tuple[InboundMessage, str]] = field(default_factory=list)  # with reason


class InboundQueue(ABC):
    """Stores messages durably and runs the turn for each: ordered per sender."""

    @abstractmethod
    async def start(self) -> None:
        """Open the storage and resume what an earlier process left pending (idempotent)."""

    @abstractmethod
    async def put(self, messages: Sequence[InboundMessage]) -> Admission:
        """Store new messages; returns once they are durable (before the webhook's 200).

        A message id already stored (pending or done) is a duplicate. Messages over a
        cap are refused (the webhook answers 503 and Meta redelivers the body). Raises
        ``QueueClosedError`` or ``QueueUnavailableError`` when nothing could be stored.
        """

    @abstractmethod
    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting; let running turns finish for up to ``timeout`` seconds.
        Whatever did not finish stays stored and runs after the next start."""

    @property
    @abstractmethod
    def pending(self) -> int:
        """Messages accepted but not yet handled (running turns included)."""


def build_inbound_queue(
    handler: Handler, give_up: GiveUp, config: WhatsAppConfig, *, runs_turns: bool = True
) -> InboundQueue:
    """Redis streams when ``queue_redis_url`` is set, else the SQLite journal.

    ``runs_turns=False`` builds the ingress gateway's side (stores only). Rasa's side,
    when the gateway receives the webhooks (``ingress: gateway``), watches the SQLite
    journal for the gateway's rows; Redis consumers read new entries as they come anyway.
    """
    from connectors.turn_scheduler import TurnPolicy

    limits = QueueLimits(
        max_pending=config.max_pending, max_pending_per_sender=config.max_pending_per_sender
    )
    policy = TurnPolicy(
        attempts=max(1, config.turn_attempts),
        base_delay=config.turn_retry_base_delay,
        max_delay=config.turn_retry_max_delay,
        timeout=config.turn_timeout_seconds,
    )
    if config.queue_redis_url:
        from connectors.redis_queue import RedisStreamQueue

        return RedisStreamQueue(
            handler, give_up, url=config.queue_redis_url, key_prefix=config.queue_key_prefix,
            partitions=config.queue_partitions, lease_seconds=config.queue_lease_seconds,
            limits=limits, policy=policy, max_concurrency=config.max_concurrent_turns,
            retention_seconds=config.dedup_ttl_seconds, runs_turns=runs_turns,
        )
    from connectors.sqlite_queue import SqliteInboundQueue

    watch = config.queue_watch_seconds if config.ingress == "gateway" else None
    return SqliteInboundQueue(
        handler, give_up, path=config.queue_path, synchronous=config.queue_synchronous,
        limits=limits, policy=policy, max_concurrency=config.max_concurrent_turns,
        retention_seconds=config.dedup_ttl_seconds, runs_turns=runs_turns,
        watch_seconds=watch,
    )


async def _never_called(*_: object) -> None:
    raise RuntimeError("a store-only queue runs no turns")


def build_store_only_queue(config: WhatsAppConfig) -> InboundQueue:
    """The ingress gateway's queue: the same storage, de-duplication and caps, no turns."""
    never: Callable[..., Awaitable[None]] = _never_called
    return build_inbound_queue(never, never, config, runs_turns=False)


async def keep_starting(queue: InboundQueue, delay: float, *, wait_first: bool) -> None:
    """Start ``queue``, trying again after ``delay`` seconds (doubling, at most 30) while
    its storage cannot be reached; webhooks get 503 meanwhile, so Meta redelivers."""
    failed = wait_first  # waiting first means the caller's own try already failed
    while True:
        if wait_first:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        wait_first = True
        try:
            await queue.start()
        except Exception as exc:
            failed = True
            logger.error("whatsapp.queue.start_failed", error=f"{type(exc).__name__}: {exc}")
        else:
            if failed:
                logger.info("whatsapp.queue.start_recovered")
            return
