"""WhatsApp connector benchmarks.

    .venv/bin/python -m bench.whatsapp_bench ack        # webhook ack vs REST channel
    .venv/bin/python -m bench.whatsapp_bench roundtrip  # message in → message out

`ack`: signed webhook POSTs at 200 requests/s for 30 s against the WhatsApp webhook
while the turns they queue run, once per inbound-queue set-up, each on a fresh stack in
the same run: the journal in memory (no durable store: what the webhook cost before
it), the SQLite journal (default; synchronous NORMAL, then FULL) and Redis Streams.
Then the same load against Rasa's built-in REST channel (which answers only after the
turn). Prints p50/p99 of each.
`roundtrip`: 20 messages/s across 100 partners through the sandbox; the latency is from
the webhook POST to the reply recorded by the sandbox's Graph API; prints p50/p95.

Starts its own backend, action server, sandbox and Rasa (model from `make train`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import requests

from bench.common import (
    REDIS_BENCH_URL,
    cpu_shares,
    flush_redis,
    format_shares,
    open_loop,
    percentile,
    scale_out_stores,
    summary,
)
from tests.support.demo import FIXTURES
from tests.support.processes import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VENV_BIN,
    Stack,
    running,
    start_stack,
)

# (label, Rasa environment, ingress gateway?): the inbound set-ups the benchmarks compare.
QUEUE_SETUPS: list[tuple[str, dict[str, str], bool]] = [
    ("no durable store (journal in memory)", {"WHATSAPP_QUEUE_PATH": ":memory:"}, False),
    ("SQLite journal, synchronous=NORMAL", {}, False),
    ("SQLite journal, synchronous=FULL", {"WHATSAPP_QUEUE_SYNCHRONOUS": "FULL"}, False),
    ("Redis Streams", {"WHATSAPP_QUEUE_REDIS_URL": REDIS_BENCH_URL}, False),
    ("gateway + SQLite journal (default)", {}, True),
    ("gateway + Redis Streams", {"WHATSAPP_QUEUE_REDIS_URL": REDIS_BENCH_URL}, True),
]


def partner_ids(count: int) -> list[str]:
    """The five demo partners plus senders that are not partners (answered too)."""
    return list(FIXTURES) + [f"62877{n:08d}" for n in range(count - len(FIXTURES))]


def text_webhook(wa_id: str, text: str) -> tuple[bytes, str]:
    """A Cloud API text-message webhook body and its X-Hub-Signature-256."""
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "628000", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Bench"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": f"wamid.{uuid.uuid4().hex}",
                          "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": text}}],
        }}]}],
    }
    raw = json.dumps(body).encode()
    digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, f"sha256={digest}"


async def post_webhook(
    session: aiohttp.ClientSession, webhook_url: str, wa_id: str, text: str,
    statuses: Counter[int],
) -> bool:
    """POST one signed text-message webhook as Meta does; counts the answer's status."""
    raw, signature = text_webhook(wa_id, text)
    async with session.post(
        webhook_url, data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    ) as response:
        statuses[response.status] += 1
        return response.status == 200


async def bench_ack(webhook_url: str, rate: float, duration: float, label: str = "") -> str:
    """Latency of the 200s; the other answers are counted by status (503 = a queue cap:
    100 senders at 2 messages/s each outrun the turns, so each soon has 50 waiting)."""
    senders = partner_ids(100)
    statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def whatsapp(index: int) -> bool:
            wa_id = senders[index % len(senders)]
            return await post_webhook(session, webhook_url, wa_id, "cek poin dong", statuses)

        result = await open_loop(whatsapp, rate, duration)
        answers = " ".join(f"{code}:{count}" for code, count in sorted(statuses.items()))
        name = f"WhatsApp webhook ack, {label} ({rate:.0f}/s, {duration:.0f}s)"
        return f"{summary(name, *result)} statuses {answers}"


async def rest_message(
    session: aiohttp.ClientSession, rasa_url: str, sender: str, text: str
) -> bool:
    """One message through Rasa's REST channel; True when it answered something."""
    async with session.post(
        rasa_url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}
    ) as response:
        return response.status == 200 and bool(await response.json())


async def bench_rest(rasa_url: str, rate: float, duration: float) -> str:
    senders = partner_ids(100)
    # Rasa answers REST only after the turn; what is still unanswered after two minutes
    # counts as an error.
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async def rest(index: int) -> bool:
            sender = f"rest-{senders[index % len(senders)]}"
            return await rest_message(session, rasa_url, sender, "cek poin dong")

        result = await open_loop(rest, rate, duration)
        return summary(f"REST channel reply ({rate:.0f}/s, {duration:.0f}s)", *result)


async def bench_burst(
    webhook_url: str, sandbox_url: str, rate: float, duration: float, label: str = "",
    settle: float = 60.0, senders: int = 0,
) -> Result:
    """New conversations: every message comes from a sender this Rasa has not seen, as
    signed webhooks straight to the webhook; the reply's time is when the sandbox's Graph
    API recorded it. ``senders=N`` cycles over N senders instead (after their first
    message, returning partners). Waits up to ``settle`` s after the load for replies."""
    run = uuid.uuid4().int % 10_000
    sent_at: dict[tuple[str, int], float] = {}
    statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def send(index: int) -> bool:
            number = index % senders if senders else index
            wa_id = f"6289{run:04d}{number:06d}"
            sent_at[(wa_id, index // senders if senders else 0)] = time.time()
            return await post_webhook(session, webhook_url, wa_id, "level aku apa", statuses)

        await open_loop(send, rate, duration)
        # The k-th reply to a sender answers its k-th message ("level aku apa" gets one).
        replies: dict[tuple[str, int], float] = {}
        received: Counter[str] = Counter()
        deadline = time.monotonic() + settle
        since = 0
        while True:
            async with session.get(
                f"{sandbox_url}/sandbox/messages", params={"since": str(since)}
            ) as response:
                body = await response.json()
            for record in body["messages"]:
                key = (record.get("to"), received[record.get("to")])
                if key in sent_at:
                    received[key[0]] += 1
                    replies[key] = datetime.fromisoformat(record["received_at"]).timestamp()
            since = body["last_seq"]
            if len(replies) >= len(sent_at) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
    latencies = [(replies[key] - sent) * 1000 for key, sent in sent_at.items()
                 if key in replies]
    missing = len(sent_at) - len(replies)
    answers = " ".join(f"{code}:{count}" for code, count in sorted(statuses.items()))
    who = f"{senders} returning senders" if senders else f"{len(sent_at)} new senders"
    name = f"{label}({rate:.0f} msg/s, {len(sent_at)} msgs from {who}, statuses on)"
    return Result.of(name, latencies, missing, duration, f"unanswered={missing} acks {answers}")


async def bench_rest_burst(
    rasa_url: str, rate: float, duration: float, senders: int = 0
) -> Result:
    """The same messages through Rasa's REST channel (reply = the HTTP response)."""
    run = uuid.uuid4().int % 10_000
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async def rest(index: int) -> bool:
            sender = f"6288{run:04d}{(index % senders if senders else index):06d}"
            return await rest_message(session, rasa_url, sender, "level aku apa")

        latencies, errors, seconds = await open_loop(rest, rate, duration)
    who = f"{senders} returning senders" if senders else "new senders"
    name = f"bare Rasa (REST channel), {who} ({rate:.0f} msg/s, {duration:.0f}s)"
    return Result.of(name, latencies, errors, seconds)


@dataclass(frozen=True)
class Result:
    line: str
    p50: float
    p95: float

    @classmethod
    def of(cls, name: str, latencies: list[float], errors: int, seconds: float,
           extra: str = "") -> Result:
        line = f"{summary(name, latencies, errors, seconds)} {extra}".rstrip()
        if not latencies:
            return cls(line, float("nan"), float("nan"))
        return cls(line, statistics.median(latencies), percentile(latencies, 95))


async def bench_roundtrip(sandbox_url: str, rate: float, duration: float) -> str:
    """Each partner's k-th message is matched with the k-th reply it receives ("level aku
    apa" gets exactly one reply, partner or not)."""
    senders = partner_ids(100)
    sent_at: dict[str, list[float]] = {wa_id: [] for wa_id in senders}
    async with aiohttp.ClientSession() as session:
        async def send(index: int) -> bool:
            wa_id = senders[index % len(senders)]
            sent_at[wa_id].append(time.time())
            async with session.post(
                f"{sandbox_url}/sandbox/inbound", json={"from": wa_id, "text": "level aku apa"}
            ) as response:
                return response.status == 200

        await open_loop(send, rate, duration)
    await asyncio.sleep(10)
    latencies: list[float] = []
    missing = 0
    for wa_id, starts in sent_at.items():
        body = requests.get(f"{sandbox_url}/sandbox/messages", params={"to": wa_id},
                            timeout=10).json()
        records = body["messages"]
        replies = [datetime.fromisoformat(r["received_at"]).timestamp() for r in records]
        missing += max(0, len(starts) - len(replies))
        latencies += [(reply - sent) * 1000 for sent, reply in zip(starts, replies, strict=False)]
    total = sum(len(starts) for starts in sent_at.values())
    return summary(f"message in → out ({rate:.0f}/s, {total} msgs, 100 partners)",
                   latencies, missing, duration)


def chosen_setups(spec: str, default: str) -> list[tuple[str, dict[str, str], bool]]:
    indexes = range(len(QUEUE_SETUPS)) if spec == "all" else spec or default
    if isinstance(indexes, str):
        indexes = [int(i) for i in indexes.split(",")]
    return [QUEUE_SETUPS[i] for i in indexes]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["ack", "roundtrip", "burst", "scale"])
    parser.add_argument("--workers", type=int, default=2, help="scale: Rasa workers")
    parser.add_argument("--senders", type=int, default=0,
                        help="burst/scale: cycle over this many senders (0: every message "
                             "from a new sender)")
    parser.add_argument("--rate", type=float)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--profile", metavar="DIR",
                        help="burst: record py-spy profiles (collapsed stacks) of Rasa, the "
                             "action server and the backend into DIR during the load")
    parser.add_argument("--queues", default="",
                        help="comma-separated indexes into QUEUE_SETUPS, or all "
                             "(ack: all; burst: 4, the default set-up)")
    args = parser.parse_args()
    if args.which == "ack":
        rate, duration = args.rate or 200, args.duration or 30
        # Each set-up gets a fresh stack, so none pays for another's backlog.
        for label, rasa_env, gateway in chosen_setups(args.queues or "all", ""):
            flush_redis(rasa_env)
            with fresh_stack(statuses=False, rasa_env=rasa_env, gateway=gateway) as stack:
                print(asyncio.run(bench_ack(stack.webhook_url, rate, duration, label)),
                      flush=True)
        with fresh_stack(statuses=False, rest=True) as stack:
            print(asyncio.run(bench_rest(stack.rasa.url, rate, duration)), flush=True)
    elif args.which == "burst":
        rate, duration = args.rate or 20, args.duration or 60
        for label, rasa_env, gateway in chosen_setups(args.queues, "4"):
            flush_redis(rasa_env)
            with (fresh_stack(statuses=True, rasa_env=rasa_env, gateway=gateway) as stack,
                  profiling(stack, args.profile, duration),
                  cpu_shares(stack_pids(stack)) as shares):
                ours = asyncio.run(bench_burst(
                    stack.webhook_url, stack.sandbox.url, rate, duration, f"{label}, ",
                    senders=args.senders,
                ))
            print(ours.line, flush=True)
            print(f"  {format_shares(shares)}", flush=True)
        # Bare Rasa: the same model, action server and tracker store, through Rasa's
        # own REST channel (answers in the HTTP response: no webhook, queue or sends).
        with (fresh_stack(statuses=False, rest=True) as stack,
              cpu_shares(stack_pids(stack)) as shares):
            bare = asyncio.run(bench_rest_burst(stack.rasa.url, rate, duration, args.senders))
        print(bare.line, flush=True)
        print(f"  {format_shares(shares)}", flush=True)
        print(f"ratio WhatsApp path / bare Rasa REST: p50 {ours.p50 / bare.p50:.2f}x, "
              f"p95 {ours.p95 / bare.p95:.2f}x", flush=True)
    elif args.which == "scale":
        rate, duration = args.rate or 80, args.duration or 60
        with scale_out_stack(args.workers) as (stack, label):
            with cpu_shares(stack_pids(stack)) as shares:
                ours = asyncio.run(bench_burst(
                    stack.webhook_url, stack.sandbox.url, rate, duration, f"{label}, ",
                    senders=args.senders,
                ))
            print(ours.line, flush=True)
            print(f"  {format_shares(shares)}", flush=True)
            # Bare Rasa on the same workers: its REST channel, same model and stores.
            bare = asyncio.run(bench_rest_burst(stack.rasa.url, rate, duration, args.senders))
            print(bare.line, flush=True)
        print(f"ratio WhatsApp path / bare Rasa REST: p50 {ours.p50 / bare.p50:.2f}x, "
              f"p95 {ours.p95 / bare.p95:.2f}x", flush=True)
    else:
        rate, duration = args.rate or 20, args.duration or 30
        with fresh_stack(statuses=True) as stack:
            print(asyncio.run(bench_roundtrip(stack.sandbox.url, rate, duration)))


@contextmanager
def scale_out_stack(workers: int) -> Iterator[tuple[Stack, str]]:
    """The scale-out configuration (``bench.common.scale_out_stores``) behind the gateway."""
    label = f"{workers} Rasa workers, Redis queue + lock store, PostgreSQL tracker store"
    with scale_out_stores(workers) as stores, fresh_stack(
        statuses=True, rest=True, gateway=True, **stores  # type: ignore[arg-type]
    ) as stack:
        yield stack, label


def stack_pids(stack: Stack) -> dict[str, int]:
    return {process.name: process.popen.pid for process in stack.processes}


@contextmanager
def profiling(stack: Stack, out_dir: str | None, duration: float) -> Iterator[None]:
    """py-spy (sampling, 100 Hz, idle threads left out) on each process while the load runs.
    The collapsed stacks read with any flame-graph tool, or with `bench.profile_summary`."""
    if not out_dir:
        yield
        return
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [str(VENV_BIN / "py-spy"), "record", "--pid", str(process.popen.pid),
             "--duration", str(int(duration)), "--rate", "100", "--format", "raw",
             "--threads", "--nonblocking", "-o", str(Path(out_dir) / f"{process.name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for process in (stack.rasa, stack.actions, stack.backend)
    ]
    try:
        yield
    finally:
        for spy in spies:
            spy.wait(timeout=duration + 60)


@contextmanager
def fresh_stack(
    statuses: bool, rest: bool = False, rasa_env: dict[str, str] | None = None,
    gateway: bool = False, **stores: str,
) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), rest=rest, rasa_env=rasa_env, gateway=gateway, **stores)
        with running(*stack.processes):
            if not statuses:  # status callbacks would add 3 webhooks per reply
                requests.post(
                    f"{stack.sandbox.url}/sandbox/settings", json={"statuses": False}, timeout=5
                )
            yield stack


if __name__ == "__main__":
    main()
