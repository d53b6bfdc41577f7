"""Process each WhatsApp message id once, although Meta may deliver it several times.

``InMemoryDeduplicator`` serves one instance. ``RedisDeduplicator`` (used when
``WHATSAPP_DEDUP_REDIS_URL`` is set) shares the seen ids between instances with
``SET key 1 NX EX ttl``: only the instance whose SET succeeds processes the message.
If Redis is unreachable it falls back to its in-memory set (fail open): answering a
message twice is better than never answering it.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import structlog

logger = structlog.get_logger(__name__)

# Meta retries an unacknowledged webhook for up to 7 days.
DEFAULT_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_KEY_PREFIX = "mitra:whatsapp:seen:"


class Deduplicator(ABC):
    @abstractmethod
    async def claim(self, message_id: str) -> bool:
        """Mark ``message_id`` as seen; True only the first time within the TTL."""

    @abstractmethod
    async def release(self, message_id: str) -> None:
        """Forget a claim (the message could not be accepted and will be redelivered)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release resources (connections)."""


class InMemoryDeduplicator(Deduplicator):
    """A TTL set bounded in size (oldest ids are evicted first)."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # id → expiry, oldest first

    def claim_now(self, message_id: str) -> bool:
        now = self._clock()
        self._evict(now)
        if message_id in self._seen:
            return False
        self._seen[message_id] = now + self._ttl
        return True

    async def claim(self, message_id: str) -> bool:
        return self.claim_now(message_id)

    async def release(self, message_id: str) -> None:
        self._seen.pop(message_id, None)

    def __len__(self) -> int:
        return len(self._seen)

    def _evict(self, now: float) -> None:
        while self._seen:
            oldest_id, expiry = next(iter(self._seen.items()))
            if expiry > now and len(self._seen) < self._max_entries:
                break
            del self._seen[oldest_id]


class RedisDeduplicator(Deduplicator):
    """Seen ids shared through Redis; the client is created lazily in the running loop."""

    def __init__(
        self,
        url: str,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        socket_timeout: float = 1.0,
    ) -> None:
        self._url = url
        self._ttl = max(1, int(ttl_seconds))
        self._prefix = key_prefix
        self._socket_timeout = socket_timeout
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fallback = InMemoryDeduplicator(ttl_seconds=ttl_seconds)

    def _redis(self) -> Any:  # redis.asyncio.Redis, imported lazily
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = aioredis.from_url(
                self._url,
                socket_timeout=self._socket_timeout,
                socket_connect_timeout=self._socket_timeout,
            )
            self._loop = loop
        return self._client

    async def claim(self, message_id: str) -> bool:
        try:
            created = await self._redis().set(self._prefix + message_id, "1", nx=True, ex=self._ttl)
        except Exception as exc:  # noqa: BLE001 - any Redis failure → fail open
            logger.warning("whatsapp.dedup.redis_unavailable", error=f"{type(exc).__name__}: {exc}")
            return self._fallback.claim_now(message_id)
        return bool(created)

    async def release(self, message_id: str) -> None:
        await self._fallback.release(message_id)
        try:
            await self._redis().delete(self._prefix + message_id)
        except Exception as exc:  # noqa: BLE001
            logger.warning("whatsapp.dedup.release_failed", error=f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.close()
            await client.connection_pool.disconnect()


def build_deduplicator(
    redis_url: str | None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    key_prefix: str = DEFAULT_KEY_PREFIX,
) -> Deduplicator:
    """Redis when a URL is configured, else in memory (one instance)."""
    if redis_url:
        return RedisDeduplicator(redis_url, ttl_seconds=ttl_seconds, key_prefix=key_prefix)
    return InMemoryDeduplicator(ttl_seconds=ttl_seconds)
