"""Helpers shared by the benchmarks: open-loop load at a fixed rate and percentiles."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable


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
