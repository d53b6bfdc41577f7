"""The Redis-streams queue: stored atomically with its de-duplication key, processed
once and in order per sender by whichever instance owns the sender's partition, shared
between instances, and taken over after an instance is killed (a real SIGKILL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from connectors.inbound_queue import QUEUE_FULL, SENDER_FULL, QueueLimits
from connectors.redis_queue import GROUP, RedisStreamQueue, partition_of
from connectors.turn_scheduler import TurnPolicy
from connectors.whatsapp_payloads import InboundMessage
from tests.connectors.crash_child import PER_SENDER, SENDERS, crash_messages, run_and_kill
from tests.connectors.test_turn_scheduler import Apologies
from tests.connectors.wa_helpers import TurnRecorder, wait_until

REDIS_URL = "redis://127.0.0.1:6379/15"
FAST = TurnPolicy(attempts=2, base_delay=0.01, max_delay=0.05, timeout=5)


def message(sender: str, text: str, message_id: str | None = None) -> InboundMessage:
    return InboundMessage(
        message_id=message_id or f"wamid.{uuid.uuid4().hex}", sender_id=sender, type="text",
        text=text,
    )


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    await client.ping()  # Redis must be running: these tests fail, never skip, without it
    yield client
    await client.close()


@pytest.fixture
async def prefix(redis_client: Any) -> AsyncIterator[str]:
    prefix = f"mitra:test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis_client.scan_iter(match=prefix + "*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
async def opened() -> AsyncIterator[list[RedisStreamQueue]]:
    queues: list[RedisStreamQueue] = []
    yield queues
    for queue in queues:
        await queue.close(timeout=0.1)


def open_queue(
    opened: list[RedisStreamQueue], prefix: str, handler: Any, **kwargs: Any
) -> RedisStreamQueue:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("partitions", 4)
    kwargs.setdefault("lease_seconds", 0.6)
    give_up = kwargs.pop("give_up", None) or Apologies()
    queue = RedisStreamQueue(handler, give_up, url=REDIS_URL, key_prefix=prefix, **kwargs)
    opened.append(queue)
    return queue


async def test_put_stores_with_the_seen_key_and_done_acknowledges(
    prefix: str, redis_client: Any, opened: list[RedisStreamQueue]
) -> None:
    recorder = TurnRecorder(delay=0.02)
    queue = open_queue(opened, prefix, recorder)
    texts = [f"pesan {i}" for i in range(6)]
    batch = [message("6281200000001", text) for text in texts]
    admission = await queue.put(batch)
    assert admission.accepted == batch
    assert (await queue.put(batch[:1])).duplicates == batch[:1]  # pending
    await wait_until(lambda: len(recorder.turns) == 6)
    assert recorder.texts_for("6281200000001") == texts
    stream = queue.stream(partition_of("6281200000001", 4))
    await wait_until(lambda: queue.pending == 0)
    assert await redis_client.xlen(stream) == 0  # acknowledged and deleted
    assert (await redis_client.xpending(stream, GROUP))["pending"] == 0
    seen = prefix + "seen:" + batch[0].message_id
    assert await redis_client.get(seen) == "done"
    assert 0 < await redis_client.ttl(seen) <= 7 * 24 * 3600
    assert (await queue.put(batch[:1])).duplicates == batch[:1]  # handled
    assert await redis_client.get(prefix + "pending") == "0"


async def test_caps_per_sender_and_in_total(
    prefix: str, opened: list[RedisStreamQueue]
) -> None:
    recorder = TurnRecorder(delay=0.05)
    limits = QueueLimits(max_pending=4, max_pending_per_sender=2)
    queue = open_queue(opened, prefix, recorder, limits=limits)
    flood = [message("flood", f"f{i}") for i in range(3)]
    admission = await queue.put(flood)
    assert admission.accepted == flood[:2] and admission.refused == [(flood[2], SENDER_FULL)]
    others = [message(f"partner{i}", "halo") for i in range(3)]
    admission = await queue.put(others)
    assert admission.accepted == others[:2] and admission.refused == [(others[2], QUEUE_FULL)]
    await wait_until(lambda: len(recorder.turns) == 4 and queue.pending == 0)
    assert (await queue.put(flood[2:])).accepted == flood[2:]  # Meta's redelivery


async def test_a_failed_message_forgets_its_id_so_a_redelivery_is_tried_again(
    prefix: str, redis_client: Any, opened: list[RedisStreamQueue]
) -> None:
    calls: list[str] = []

    async def handler(message: InboundMessage) -> None:
        calls.append(message.text or "")
        if len(calls) <= FAST.attempts:
            raise RuntimeError("lock store down")

    apologies = Apologies()
    queue = open_queue(opened, prefix, handler, give_up=apologies)
    broken = message("a", "cek poin")
    await queue.put([broken])
    await wait_until(lambda: len(apologies.calls) == 1 and queue.pending == 0)
    assert await redis_client.exists(prefix + "seen:" + broken.message_id) == 0
    assert (await queue.put([broken])).accepted == [broken]
    await wait_until(lambda: len(calls) == FAST.attempts + 1 and queue.pending == 0)
    assert await redis_client.get(prefix + "seen:" + broken.message_id) == "done"


async def test_two_instances_share_the_partitions_and_keep_each_sender_in_order(
    prefix: str, opened: list[RedisStreamQueue]
) -> None:
    log: list[tuple[str, str, str]] = []  # (instance, sender, text) in completion order

    def recorder_for(name: str) -> Any:
        async def handler(message: InboundMessage) -> None:
            log.append((name, message.sender_id, message.text or ""))
        return handler

    first = open_queue(opened, prefix, recorder_for("first"), partitions=8)
    await first.start()
    assert len(first.owned) == 8
    senders = [f"62812000{i:05d}" for i in range(12)]
    # Written through both instances while ownership changes hands.
    for round_ in range(3):
        await first.put([message(s, f"{s}:{round_}") for s in senders])
    second = open_queue(opened, prefix, recorder_for("second"), partitions=8)
    await second.start()
    for round_ in range(3, 6):
        target = first if round_ % 2 else second
        await target.put([message(s, f"{s}:{round_}") for s in senders])
    await wait_until(lambda: len(first.owned) == 4 and len(second.owned) == 4, timeout=10)
    for round_ in range(6, 8):
        await second.put([message(s, f"{s}:{round_}") for s in senders])
    await wait_until(lambda: len(log) == 8 * len(senders), timeout=10)
    for sender in senders:
        assert [text for _, s, text in log if s == sender] == [
            f"{sender}:{r}" for r in range(8)
        ]
    later = [name for name, _, text in log if text.endswith(":7")]
    assert set(later) == {"first", "second"}  # both do work once balanced
    assert set(first.owned).isdisjoint(second.owned)


def test_a_killed_instance_s_messages_are_taken_over_in_order_once(
    prefix: str,
) -> None:
    lines = run_and_kill(
        ["redis", REDIS_URL, prefix],
        ready=lambda seen: {"done a-0", "started a-1", "started b-0", "started c-0"} <= set(seen)
        and sum(line.startswith("stored") for line in seen) == len(SENDERS) * PER_SENDER,
    )
    assert "started b-1" not in lines

    async def take_over() -> TurnRecorder:
        recorder = TurnRecorder()
        queue = RedisStreamQueue(
            recorder, Apologies(), url=REDIS_URL, key_prefix=prefix, partitions=4,
            lease_seconds=1.0, policy=FAST,
        )
        await queue.start()
        await wait_until(lambda: len(recorder.turns) == len(SENDERS) * PER_SENDER - 1, 15)
        await wait_until(lambda: queue.pending == 0)
        admission = await queue.put(crash_messages())  # redelivered: all handled
        assert len(admission.duplicates) == len(crash_messages())
        await queue.close()
        return recorder

    import asyncio

    recorder = asyncio.run(take_over())
    assert recorder.texts_for("a") == [f"a-{i}" for i in range(1, PER_SENDER)]
    for sender in ("b", "c"):
        assert recorder.texts_for(sender) == [f"{sender}-{i}" for i in range(PER_SENDER)]


async def test_instances_must_agree_on_the_partition_count(
    prefix: str, opened: list[RedisStreamQueue]
) -> None:
    await open_queue(opened, prefix, TurnRecorder(), partitions=4).start()
    other = open_queue(opened, prefix, TurnRecorder(), partitions=8)
    with pytest.raises(ValueError, match="same count"):
        await other.start()


def test_partition_of_is_stable() -> None:
    assert partition_of("6281200000001", 32) == partition_of("6281200000001", 32)
    assert {partition_of(f"62812{i:08d}", 8) for i in range(200)} == set(range(8))


async def test_a_store_only_queue_never_consumes_and_a_consumer_runs_what_it_stored(
    prefix: str, opened: list[RedisStreamQueue], redis_client: Any
) -> None:
    async def never(*_: Any) -> None:
        raise AssertionError("the gateway's queue must never run a turn")

    gateway = open_queue(opened, prefix, never, give_up=never, runs_turns=False)
    await gateway.start()
    senders = [f"62812000{i:05d}" for i in range(6)]
    sent = [message(s, f"{s}:{n}") for n in range(3) for s in senders]
    assert (await gateway.put(sent)).accepted == sent
    assert gateway.owned == []
    assert await redis_client.zcard(prefix + "consumers") == 0  # it never joined
    assert (await gateway.put(sent[:2])).duplicates == sent[:2]
    recorder = TurnRecorder(delay=0.01)
    rasa = open_queue(opened, prefix, recorder)
    await rasa.start()
    await wait_until(lambda: len(recorder.turns) == len(sent), timeout=10)
    for sender in senders:
        assert recorder.texts_for(sender) == [f"{sender}:{n}" for n in range(3)]
    await wait_until(lambda: rasa.pending == 0)
    assert await redis_client.get(prefix + "pending") == "0"
