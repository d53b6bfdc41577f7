"""The inbound queue for several Rasa instances: Redis streams with one consumer group.

Design
------
- **Partitions.** A sender's messages go to stream ``<prefix>stream:<n>`` with
  ``n = crc32(sender_id) % partitions``. Any instance may *write* any partition (the
  webhook that Meta happened to call stores the message and answers 200).
- **One owner per partition.** An instance *reads* only the partitions it holds a lease
  on (``<prefix>lease:<n>`` = its consumer name, ``SET NX PX``, renewed every third of
  the lease). Within a partition the owner runs turns concurrently across senders and
  one after another per sender (``TurnScheduler``). A sender lives in one partition, so
  its messages are handled by one instance at a time, in stream order: ordered across
  instances without a global lock.
- **Sharing the work.** Instances announce themselves in ``<prefix>consumers`` (a sorted
  set of heartbeats, Redis server time). Each aims at ``ceil(partitions / live
  instances)`` partitions: it takes free leases while it has fewer and, when it has
  more, stops reading some partitions and releases their leases once their running
  turns ended — so a partition changes hands only when nothing of it is in flight.
- **A dead instance.** Its leases expire (``lease_seconds``) and another instance takes
  the partitions over. Before reading anything new there, the new owner waits until
  every entry the dead one had read but not acknowledged (the group's pending entries)
  has been idle for ``lease_seconds``, claims them all with ``XCLAIM`` and runs them in
  stream order. (``XAUTOCLAIM`` claims whatever is idle enough *now*, which could run a
  newer message of a sender before an older one that is still in its idle period.) An
  attempt that starts re-claims its entry for the running instance, which resets the
  idle clock, so a live instance's running turn is never taken away from it.
- **Once.** ``<prefix>seen:<message_id>`` is set in the same Lua script as the ``XADD``
  (a redelivered id, to any instance, is a duplicate); ``XACK`` + ``XDEL`` and the
  ``done`` mark happen together after the turn. When every attempt failed the seen key
  is deleted instead, so a redelivery by Meta is tried anew.
- **Caps.** ``<prefix>pending`` (all instances) and ``<prefix>sender:<id>`` counters,
  checked and changed in the same scripts.

Durability is Redis's: run it with ``appendonly yes`` (``appendfsync everysec`` loses at
most the last second on a Redis crash or power cut). Needs one Redis (a primary, with
replicas or Sentinel if wanted); Redis Cluster is not supported (multi-key scripts).
All instances must use the same prefix and partition count (checked at start).
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import socket
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from connectors.inbound_queue import (
    DEFAULT_LIMITS,
    QUEUE_FULL,
    SENDER_FULL,
    Admission,
    InboundQueue,
    QueueClosedError,
    QueueLimits,
    QueueUnavailableError,
)
from connectors.masking import mask_id
from connectors.message_codec import CodecError, decode_message, encode_message
from connectors.turn_scheduler import (
    DEFAULT_POLICY,
    GiveUp,
    Handler,
    Job,
    TurnPolicy,
    TurnScheduler,
)
from connectors.whatsapp_payloads import InboundMessage

logger = structlog.get_logger(__name__)

GROUP = "turns"
DEFAULT_PREFIX = "mitra:whatsapp:"
TAKING_OVER, ACTIVE, DRAINING = "taking_over", "active", "draining"
READ_BLOCK_MS = 500

# KEYS: pending counter, then per message: stream, seen key, sender counter.
# ARGV: ttl, max pending, max per sender, then per message: message id, sender, body.
# Returns per message: 1 stored, 0 duplicate, -1 sender cap, -2 global cap.
ENQUEUE = """
local ttl, max_total, max_sender = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
local results = {}
for i = 0, (#KEYS - 1) / 3 - 1 do
  local stream, seen, count = KEYS[2 + 3 * i], KEYS[3 + 3 * i], KEYS[4 + 3 * i]
  if redis.call('EXISTS', seen) == 1 then
    results[i + 1] = 0
  elseif total >= max_total then
    results[i + 1] = -2
  elseif tonumber(redis.call('GET', count) or '0') >= max_sender then
    results[i + 1] = -1
  else
    redis.call('XADD', stream, '*', 'message_id', ARGV[4 + 3 * i],
               'sender', ARGV[5 + 3 * i], 'body', ARGV[6 + 3 * i])
    redis.call('SET', seen, 'pending', 'EX', ttl)
    redis.call('INCR', count)
    redis.call('EXPIRE', count, ttl)
    redis.call('INCR', KEYS[1])
    total = total + 1
    results[i + 1] = 1
  end
end
return results
"""

# KEYS: stream, seen key, sender counter, pending counter, attempts hash.
# ARGV: group, entry id, ttl, outcome (done|failed), attempts field.
FINISH = """
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[5])
if acked == 0 then return 0 end
if ARGV[4] == 'done' then
  redis.call('SET', KEYS[2], 'done', 'EX', ARGV[3])
else
  redis.call('DEL', KEYS[2])
end
for _, key in ipairs({KEYS[3], KEYS[4]}) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
"""

# KEYS: lease keys. ARGV: consumer, lease ms. Returns 1/0 per lease still ours.
RENEW = """
local results = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    results[i] = 1
  else
    results[i] = 0
  end
end
return results
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: consumers zset. ARGV: consumer, liveness window ms. Returns live consumers.
HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True as soon as ``event`` is set."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except asyncio.TimeoutError:
        return False
    return True


async def _finish(tasks: Sequence[asyncio.Task[None]], timeout: float) -> None:
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=timeout)
    for task in late:
        task.cancel()  # last resort; not awaited (see close)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def partition_of(sender_id: str, partitions: int) -> int:
    """Stable across processes and machines (unlike ``hash()``)."""
    return zlib.crc32(sender_id.encode("utf-8")) % partitions


def _stream_id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class _Partition:
    state: str
    deadline: float  # monotonic time until which the lease is surely ours
    barrier: int = 0  # reads started before draining began


class RedisStreamQueue(InboundQueue):
    """``InboundQueue`` over Redis streams (see the module docstring); also the
    scheduler's ``JobStore``."""

    def __init__(
        self,
        handler: Handler,
        give_up: GiveUp,
        *,
        url: str,
        key_prefix: str = DEFAULT_PREFIX,
        partitions: int = 32,
        lease_seconds: float = 10.0,
        limits: QueueLimits = DEFAULT_LIMITS,
        policy: TurnPolicy = DEFAULT_POLICY,
        max_concurrency: int = 64,
        retention_seconds: float = 7 * 24 * 3600,
        read_ahead: int = 256,
        consumer: str | None = None,
        socket_timeout: float = 5.0,
        runs_turns: bool = True,
    ) -> None:
        """``runs_turns=False`` is the ingress gateway's queue: it stores messages (with
        the same de-duplication and caps) and never joins the consumers that run turns."""
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self._url = url
        self._prefix = key_prefix
        self._partitions = partitions
        self._lease = lease_seconds
        self._limits = limits
        self._ttl = max(1, int(retention_seconds))
        self._read_ahead = read_ahead
        self._socket_timeout = socket_timeout
        self.runs_turns = runs_turns
        self._given_consumer = consumer
        self.consumer = consumer or _consumer_name()
        self._scheduler = TurnScheduler(
            handler, give_up, self, policy=policy, max_concurrency=max_concurrency
        )
        self._owned: dict[int, _Partition] = {}
        self._inflight: Counter[int] = Counter()
        self._dispatched: set[tuple[int, str]] = set()
        self._reads_started = self._reads_done = 0
        # A read blocks at most this long; it only includes partitions whose lease lasts
        # well beyond it, so no read delivers entries after the lease could have moved.
        self._block_ms = int(min(READ_BLOCK_MS, lease_seconds * 1000 / 4))
        self._tasks: list[asyncio.Task[None]] = []
        self._takeovers: dict[int, asyncio.Task[None]] = {}
        self._background: set[asyncio.Future[None]] = set()
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._started: asyncio.Future[None] | None = None
        self._closing = False
        self._stopping = asyncio.Event()  # the read loop and take-overs end
        self._stopped = asyncio.Event()  # the balance loop ends

    # keys -------------------------------------------------------------------------

    def _key(self, *parts: object) -> str:
        return self._prefix + ":".join(str(p) for p in parts)

    def stream(self, partition: int) -> str:
        return self._key("stream", partition)

    def _lease_key(self, partition: int) -> str:
        return self._key("lease", partition)

    @property
    def owned(self) -> list[int]:
        return sorted(self._owned)

    @property
    def pending(self) -> int:
        return self._scheduler.pending

    # lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        started = self._started
        if started is None or (started.done() and started.exception() is not None):
            self._started = started = asyncio.ensure_future(self._connect())  # (again)
        await asyncio.shield(started)

    async def _connect(self) -> None:
        import redis.asyncio as aioredis

        if self._given_consumer is None:
            # Named here, not at construction: Rasa builds the channel before Sanic forks
            # its workers (SANIC_WORKERS), and each worker must be a consumer of its own.
            self.consumer = _consumer_name()

        client = aioredis.from_url(
            self._url,
            decode_responses=True,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._socket_timeout,
        )
        self._client = client
        for name, script in (
            ("enqueue", ENQUEUE), ("finish", FINISH), ("renew", RENEW),
            ("release", RELEASE), ("heartbeat", HEARTBEAT),
        ):
            self._scripts[name] = client.register_script(script)
        meta = self._key("meta")
        await client.hsetnx(meta, "partitions", self._partitions)
        stored = int(await client.hget(meta, "partitions"))
        if stored != self._partitions:
            raise ValueError(
                f"{meta} says {stored} partitions, this instance is configured with "
                f"{self._partitions}: every instance must use the same count"
            )
        await self._create_groups()
        if not self.runs_turns:
            logger.info("whatsapp.queue.connected", role="store only")
            return
        await self._balance()
        self._tasks = [
            asyncio.create_task(self._balance_loop()),
            asyncio.create_task(self._read_loop()),
        ]
        logger.info("whatsapp.queue.joined", consumer=self.consumer, partitions=self.owned)

    async def _create_groups(self) -> None:
        from redis.exceptions import ResponseError

        for partition in range(self._partitions):
            try:
                await self._client.xgroup_create(
                    self.stream(partition), GROUP, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def close(self, timeout: float = 10.0) -> None:
        if self._closing:
            return
        self._closing = True  # the balance loop keeps renewing leases, nothing else
        if self._started is None or self._client is None:
            return
        if not self.runs_turns:
            await self._client.close()
            await self._client.connection_pool.disconnect()
            return
        # Loops are told to stop rather than cancelled: cancelling redis-py in the middle
        # of a blocking read can leave the task waiting on its socket.
        self._stopping.set()
        await _finish(self._tasks[1:] + list(self._takeovers.values()), 2 * self._socket_timeout)
        await self._scheduler.close(timeout)
        self._stopped.set()
        await _finish(self._tasks[:1], 2 * self._socket_timeout)
        try:
            for partition in list(self._owned):
                await self._scripts["release"](
                    keys=[self._lease_key(partition)], args=[self.consumer]
                )
            await self._client.zrem(self._key("consumers"), self.consumer)
        except Exception as exc:  # noqa: BLE001 - the leases expire by themselves
            logger.warning("whatsapp.queue.leave_failed", error=_describe(exc))
        self._owned.clear()
        await self._client.close()
        await self._client.connection_pool.disconnect()

    # writing ----------------------------------------------------------------------

    async def put(self, messages: Sequence[InboundMessage]) -> Admission:
        if self._closing:
            raise QueueClosedError("inbound queue is closed")
        admission = Admission()
        if not messages:
            return admission
        try:
            await self.start()
            keys, args = [self._key("pending")], [
                self._ttl, self._limits.max_pending, self._limits.max_pending_per_sender
            ]
            for message in messages:
                sender = message.sender_id
                keys += [
                    self.stream(partition_of(sender, self._partitions)),
                    self._key("seen", message.message_id),
                    self._key("sender", sender),
                ]
                args += [message.message_id, sender, encode_message(message)]
            results = await self._scripts["enqueue"](keys=keys, args=args)
        except QueueClosedError:
            raise
        except Exception as exc:
            raise QueueUnavailableError(f"Redis: {type(exc).__name__}: {exc}") from exc
        for message, code in zip(messages, results, strict=True):
            if code == 1:
                admission.accepted.append(message)
            elif code == 0:
                admission.duplicates.append(message)
            else:
                admission.refused.append((message, SENDER_FULL if code == -1 else QUEUE_FULL))
        return admission

    # partitions -------------------------------------------------------------------

    async def _balance_loop(self) -> None:
        while not await _wait(self._stopped, self._lease / 3):
            try:
                await self._balance()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis hiccup: try again next round
                logger.warning("whatsapp.queue.balance_failed", error=_describe(exc))

    async def _balance(self) -> None:
        lease_ms = int(self._lease * 1000)
        live = int(await self._scripts["heartbeat"](
            keys=[self._key("consumers")], args=[self.consumer, lease_ms]
        ))
        await self._renew(lease_ms)
        if self._closing:
            return
        target = math.ceil(self._partitions / max(1, live))
        if len(self._owned) < target:
            await self._acquire(target - len(self._owned), lease_ms)
        else:
            active = [p for p, part in self._owned.items() if part.state == ACTIVE]
            draining = len(self._owned) - len(active)
            excess = len(self._owned) - target - draining
            for partition in sorted(active, key=lambda p: self._inflight[p])[: max(0, excess)]:
                part = self._owned[partition]
                part.state, part.barrier = DRAINING, self._reads_started
                logger.info("whatsapp.queue.partition_draining", partition=partition)
        for partition, part in list(self._owned.items()):
            # Released only when nothing of it runs here and no read that may still
            # deliver its entries to us is under way.
            if (
                part.state == DRAINING
                and not self._inflight[partition]
                and self._reads_done >= part.barrier
            ):
                del self._owned[partition]
                await self._scripts["release"](
                    keys=[self._lease_key(partition)], args=[self.consumer]
                )
                logger.info("whatsapp.queue.partition_released", partition=partition)
        await self._sweep()

    async def _renew(self, lease_ms: int) -> None:
        partitions = list(self._owned)
        if not partitions:
            return
        started = time.monotonic()
        results = await self._scripts["renew"](
            keys=[self._lease_key(p) for p in partitions], args=[self.consumer, lease_ms]
        )
        for partition, ok in zip(partitions, results, strict=True):
            part = self._owned.get(partition)
            if part is None:
                continue
            if ok:
                lapsed = part.deadline < started
                part.deadline = started + self._lease
                if lapsed and partition not in self._takeovers and not self._closing:
                    # Jobs were skipped while the lease was in doubt: pick them up again.
                    part.state = TAKING_OVER
                    self._takeovers[partition] = asyncio.create_task(self._take_over(partition))
            else:
                del self._owned[partition]
                logger.warning("whatsapp.queue.partition_lost", partition=partition)

    async def _acquire(self, wanted: int, lease_ms: int) -> None:
        candidates = [p for p in range(self._partitions) if p not in self._owned]
        holders = await self._client.mget([self._lease_key(p) for p in candidates])
        free = [p for p, holder in zip(candidates, holders, strict=True) if holder is None]
        random.shuffle(free)
        for partition in free:
            if wanted <= 0:
                break
            started = time.monotonic()
            if await self._client.set(
                self._lease_key(partition), self.consumer, nx=True, px=lease_ms
            ):
                wanted -= 1
                self._owned[partition] = _Partition(TAKING_OVER, started + self._lease)
                self._takeovers[partition] = asyncio.create_task(self._take_over(partition))

    async def _take_over(self, partition: int) -> None:
        """Claim what earlier owners left unacknowledged, run it in stream order, then
        start reading new entries of the partition."""
        try:
            while partition in self._owned and not self._closing:
                if await self._claim_left_over(partition, all_or_nothing=True):
                    part = self._owned.get(partition)
                    if part is not None and part.state == TAKING_OVER:
                        part.state = ACTIVE
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - give the lease up; someone retries
            logger.warning(
                "whatsapp.queue.takeover_failed", partition=partition, error=_describe(exc)
            )
            if self._owned.pop(partition, None) is not None:
                await self._scripts["release"](
                    keys=[self._lease_key(partition)], args=[self.consumer]
                )
        finally:
            self._takeovers.pop(partition, None)

    async def _claim_left_over(self, partition: int, all_or_nothing: bool) -> bool:
        """Claim the partition's entries that were read but are not running here (read by
        a dead instance, or by us while the lease was in doubt) once they have been idle
        for a lease, and run them in stream order. ``all_or_nothing``: only when every one
        of them is idle enough (taking over: nothing new may run before them); returns
        False after waiting for that."""
        stream = self.stream(partition)
        lease_ms = self._lease * 1000
        entries = await self._client.xpending_range(stream, GROUP, "-", "+", 100_000)
        left = [e for e in entries if (partition, e["message_id"]) not in self._dispatched]
        young = [
            e["time_since_delivered"] for e in left
            if e["consumer"] != self.consumer and e["time_since_delivered"] < lease_ms
        ]
        if young and all_or_nothing:
            await _wait(self._stopping, (lease_ms - min(young)) / 1000 + 0.05)
            return False
        ids = [
            e["message_id"] for e in left
            if e["consumer"] == self.consumer or e["time_since_delivered"] >= lease_ms
        ]
        if not ids:
            return True
        claimed = await self._client.xclaim(stream, GROUP, self.consumer, 0, ids)
        fields_by_id = {entry_id: fields for entry_id, fields in claimed if fields}
        attempts = await self._client.hmget(
            self._key("attempts"), [f"{partition}:{i}" for i in fields_by_id]
        ) if fields_by_id else []
        tries = dict(zip(fields_by_id, attempts, strict=True))
        for entry_id in sorted(fields_by_id, key=_stream_id_key):
            self._dispatch(partition, entry_id, fields_by_id[entry_id], int(tries[entry_id] or 0))
        log = logger.info if all_or_nothing else logger.warning
        log("whatsapp.queue.claimed", partition=partition, entries=len(ids))
        return True

    async def _sweep(self) -> None:
        """Safety net: entries of an active partition left in another consumer's pending
        list (an instance that read past its lease) are claimed after a lease of idleness."""
        active = [p for p, part in self._owned.items() if part.state == ACTIVE]
        if not active:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for partition in active:
                pipe.xpending(self.stream(partition), GROUP)
            summaries = await pipe.execute()
        for partition, summary in zip(active, summaries, strict=True):
            others = [c for c in summary.get("consumers") or [] if c["name"] != self.consumer]
            if others and partition in self._owned:
                await self._claim_left_over(partition, all_or_nothing=False)

    # reading ----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while not self._stopping.is_set():
            safe_until = time.monotonic() + 2 * self._block_ms / 1000
            active = [
                p for p, part in self._owned.items()
                if part.state == ACTIVE and part.deadline > safe_until
            ]
            if not active or self._scheduler.pending >= self._read_ahead:
                await _wait(self._stopping, 0.05)
                continue
            self._reads_started += 1
            try:
                reply = await self._client.xreadgroup(
                    GROUP, self.consumer, {self.stream(p): ">" for p in active},
                    count=100, block=self._block_ms,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis hiccup: entries wait in the stream
                logger.warning("whatsapp.queue.read_failed", error=_describe(exc))
                if "NOGROUP" in str(exc):  # streams deleted under us (a flush): recreate
                    await self._create_groups()
                await _wait(self._stopping, 1.0)
                continue
            finally:
                self._reads_done += 1
            for stream, entries in reply or []:
                partition = int(stream.rsplit(":", 1)[1])
                for entry_id, fields in entries:
                    if partition in self._owned:
                        self._dispatch(partition, entry_id, fields, 0)
                    # else: lost meanwhile; the new owner claims it from our pending list

    def _dispatch(self, partition: int, entry_id: str, fields: dict[str, str], tries: int) -> None:
        try:
            message = decode_message(fields["body"])
        except (CodecError, KeyError) as exc:
            logger.error(
                "whatsapp.queue.unreadable", partition=partition, entry=entry_id,
                sender=mask_id(fields.get("sender")), error=str(exc),
            )
            task = asyncio.ensure_future(self._finish_unreadable(partition, entry_id, fields))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        self._dispatched.add((partition, entry_id))
        self._inflight[partition] += 1
        self._scheduler.submit(Job(message, (partition, entry_id), tries))

    async def _finish_unreadable(
        self, partition: int, entry_id: str, fields: dict[str, str]
    ) -> None:
        sender, message_id = fields.get("sender", ""), fields.get("message_id", "")
        await self._finish(partition, entry_id, sender, message_id, "failed")

    # JobStore ---------------------------------------------------------------------

    def may_run(self, job: Job) -> bool:
        partition = job.ref[0]
        part = self._owned.get(partition)
        return part is not None and time.monotonic() < part.deadline

    async def attempt(self, job: Job) -> int:
        partition, entry_id = job.ref
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hincrby(self._key("attempts"), f"{partition}:{entry_id}", 1)
            # Reset the entry's idle time: nobody may claim it while this attempt runs.
            pipe.xclaim(self.stream(partition), GROUP, self.consumer, 0, [entry_id], justid=True)
            count, _ = await pipe.execute()
        return int(count)

    async def done(self, job: Job) -> None:
        await self._finish(*job.ref, job.message.sender_id, job.message.message_id, "done")

    async def failed(self, job: Job) -> None:
        await self._finish(*job.ref, job.message.sender_id, job.message.message_id, "failed")

    def release(self, job: Job) -> None:
        partition, entry_id = job.ref
        self._dispatched.discard((partition, entry_id))
        self._inflight[partition] -= 1
        if self._inflight[partition] <= 0:
            del self._inflight[partition]

    async def _finish(
        self, partition: int, entry_id: str, sender: str, message_id: str, outcome: str
    ) -> None:
        await self._scripts["finish"](
            keys=[
                self.stream(partition), self._key("seen", message_id),
                self._key("sender", sender), self._key("pending"), self._key("attempts"),
            ],
            args=[GROUP, entry_id, self._ttl, outcome, f"{partition}:{entry_id}"],
        )
