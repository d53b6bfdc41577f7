"""The inbound queue (per-sender workers) and the de-duplicators, on their own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from connectors.dedup import InMemoryDeduplicator, RedisDeduplicator, build_deduplicator
from connectors.inbound_queue import InMemoryInboundQueue, QueueClosedError, QueueFullError
from connectors.whatsapp_payloads import InboundMessage
from tests.connectors.wa_helpers import TurnRecorder, wait_until

REDIS_URL = "redis://127.0.0.1:6379/15"


def message(sender: str, text: str) -> InboundMessage:
    return InboundMessage(
        message_id=f"wamid.{uuid.uuid4().hex}", sender_id=sender, type="text", text=text
    )


async def test_workers_exit_when_idle_and_restart_on_new_messages() -> None:
    recorder = TurnRecorder(delay=0.01)
    queue = InMemoryInboundQueue(recorder)
    for i in range(3):
        await queue.put(message("a", f"a{i}"))
    await queue.put(message("b", "b0"))
    assert queue.active_senders == 2 and queue.pending == 4
    await wait_until(lambda: queue.active_senders == 0)
    assert queue.pending == 0
    await queue.put(message("a", "a3"))
    await wait_until(lambda: len(recorder.turns) == 5)
    assert recorder.texts_for("a") == ["a0", "a1", "a2", "a3"]
    await queue.close()


async def test_concurrency_is_bounded() -> None:
    recorder = TurnRecorder(delay=0.02)
    queue = InMemoryInboundQueue(recorder, max_concurrency=3)
    for i in range(12):
        await queue.put(message(f"s{i}", "x"))
    await wait_until(lambda: len(recorder.turns) == 12)
    assert recorder.max_active == 3
    await queue.close()


async def test_full_and_closed_queue_refuse() -> None:
    queue = InMemoryInboundQueue(TurnRecorder(delay=0.05), max_pending=2)
    await queue.put(message("a", "1"))
    await queue.put(message("b", "2"))
    with pytest.raises(QueueFullError):
        await queue.put(message("c", "3"))
    await queue.close(timeout=1)
    assert queue.pending == 0
    with pytest.raises(QueueClosedError):
        await queue.put(message("a", "4"))


async def test_close_cancels_turns_that_do_not_finish() -> None:
    recorder = TurnRecorder(delay=10)
    queue = InMemoryInboundQueue(recorder)
    await queue.put(message("a", "1"))
    await queue.put(message("a", "2"))
    await asyncio.sleep(0)
    await queue.close(timeout=0.05)
    assert queue.pending == 0 and queue.active_senders == 0
    assert recorder.turns == []


async def test_turn_timeout_frees_the_sender() -> None:
    recorder = TurnRecorder(delays={"stuck": 10})
    queue = InMemoryInboundQueue(recorder, turn_timeout=0.05)
    await queue.put(message("a", "stuck"))
    await queue.put(message("a", "next"))
    await wait_until(lambda: recorder.texts_for("a") == ["next"])
    await queue.close()


async def test_in_memory_dedup_ttl_and_release() -> None:
    now = [0.0]
    dedup = InMemoryDeduplicator(ttl_seconds=60, clock=lambda: now[0])
    assert await dedup.claim("m1")
    assert not await dedup.claim("m1")
    now[0] = 59
    assert not await dedup.claim("m1")
    now[0] = 61
    assert await dedup.claim("m1")  # expired, seen anew
    await dedup.release("m1")
    assert await dedup.claim("m1")


async def test_in_memory_dedup_is_bounded() -> None:
    dedup = InMemoryDeduplicator(max_entries=100)
    for i in range(250):
        assert await dedup.claim(f"m{i}")
    assert len(dedup) <= 100
    assert not await dedup.claim("m249")


async def test_redis_dedup_claim_release_and_ttl() -> None:
    prefix = f"mitra:test:{uuid.uuid4().hex}:"
    dedup = RedisDeduplicator(REDIS_URL, ttl_seconds=120, key_prefix=prefix)
    client = aioredis.from_url(REDIS_URL)
    try:
        assert await dedup.claim("wamid.A")
        assert not await dedup.claim("wamid.A")
        assert 0 < await client.ttl(prefix + "wamid.A") <= 120
        await dedup.release("wamid.A")
        assert await client.exists(prefix + "wamid.A") == 0
        assert await dedup.claim("wamid.A")
    finally:
        await client.delete(prefix + "wamid.A")
        await client.close()
        await dedup.close()


async def test_redis_down_falls_back_to_memory() -> None:
    dedup = RedisDeduplicator("redis://127.0.0.1:1/0", socket_timeout=0.2)
    assert await dedup.claim("wamid.B")  # fail open: answer rather than drop
    assert not await dedup.claim("wamid.B")  # still deduplicated within this instance
    await dedup.close()


def test_build_deduplicator() -> None:
    assert isinstance(build_deduplicator(None), InMemoryDeduplicator)
    assert isinstance(build_deduplicator(""), InMemoryDeduplicator)
    assert isinstance(build_deduplicator(REDIS_URL), RedisDeduplicator)
