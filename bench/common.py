"""Helpers shared by the benchmarks: open-loop load at a fixed rate and percentiles."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0–100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(name: str, latencies_ms: list[float], errors: int, seconds: float) -> str:
    if not latencies_ms:
        return f"{name}: no successful requests, {errors} errors"
    return (
        f"{name}: n={len(latencies_ms)} errors={errors} "
        f"rate={len(latencies_ms) / seconds:.1f}/s "
        f"p50={statistics.median(latencies_ms):.1f} ms "
        f"p95={percentile(latencies_ms, 95):.1f} ms "
        f"p99={percentile(latencies_ms, 99):.1f} ms "
        f"max={max(latencies_ms):.1f} ms"
    )


async def open_loop(
    send: Callable[[int], Awaitable[bool]], rate: float, duration: float
) -> tuple[list[float], int, float]:
    """Start ``send(i)`` every 1/rate seconds for ``duration`` seconds, whatever the
    latency of earlier calls (open loop, so slow answers do not hide behind a lower rate).
    Returns (latencies in ms of successful calls, error count, wall seconds)."""
    latencies: list[float] = []
    errors = 0

    async def one(index: int) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            ok = await send(index)
        except Exception:
            ok = False
        if ok:
            latencies.append((time.perf_counter() - started) * 1000)
        else:
            errors += 1

    total = int(rate * duration)
    tasks = []
    begin = time.perf_counter()
    for index in range(total):
        delay = begin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return latencies, errors, time.perf_counter() - begin


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants
    (Rasa's Sanic workers are children), read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += used.get(current, 0.0)
        todo += children.get(current, [])
    return total


@contextmanager
def cpu_shares(processes: dict[str, int]) -> Iterator[dict[str, float]]:
    """Measures each named process tree's CPU use while the block runs; after it, the
    yielded dict maps name → cores used on average over the block's wall time, with
    "bench client" for this process (it signs and posts the load)."""
    before = {name: tree_cpu_seconds(pid) for name, pid in processes.items()}
    client_before = sum(os.times()[:2])
    started = time.monotonic()
    shares: dict[str, float] = {}
    yield shares
    seconds = time.monotonic() - started
    for name, pid in processes.items():
        shares[name] = (tree_cpu_seconds(pid) - before[name]) / seconds
    shares["bench client"] = (sum(os.times()[:2]) - client_before) / seconds


def format_shares(shares: dict[str, float]) -> str:
    ordered = sorted(shares.items(), key=lambda item: -item[1])
    return "CPU cores used: " + ", ".join(f"{name} {cores:.2f}" for name, cores in ordered)


REDIS_BENCH_DB = 13  # flushed before use; nothing else of Mitra's lives there
REDIS_BENCH_URL = f"redis://127.0.0.1:6379/{REDIS_BENCH_DB}"


def flush_redis(rasa_env: dict[str, str]) -> None:
    if "WHATSAPP_QUEUE_REDIS_URL" in rasa_env:
        import redis

        redis.Redis.from_url(rasa_env["WHATSAPP_QUEUE_REDIS_URL"]).flushdb()


@contextmanager
def scale_out_stores(workers: int) -> Iterator[dict[str, object]]:
    """The scale-out configuration's Rasa side, as ``start_stack`` keywords: ``workers``
    Rasa workers (SANIC_WORKERS) sharing the Redis queue and the Redis lock store, and a
    PostgreSQL tracker store (a fresh database, dropped after)."""
    import uuid

    import psycopg2

    database = f"mitra_bench_tracker_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    flush_redis({"WHATSAPP_QUEUE_REDIS_URL": REDIS_BENCH_URL})
    rasa_env = {"SANIC_WORKERS": str(workers), "WHATSAPP_QUEUE_REDIS_URL": REDIS_BENCH_URL}
    tracker_store = ("  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n"
                     f"  port: 5432\n  db: {database}\n  username: postgres\n")  # fmt: skip
    lock_store = f"  type: redis\n  url: 127.0.0.1\n  port: 6379\n  db: {REDIS_BENCH_DB}\n"
    try:
        yield {"rasa_env": rasa_env, "tracker_store": tracker_store, "lock_store": lock_store}
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
