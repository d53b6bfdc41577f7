"""Open-loop load test of the loyalty backend's balance lookup.

Fires ``GET /api/v1/partners/by-wa/{wa_id}/balance`` for seeded partners at a fixed rate,
whether or not earlier requests have answered (open loop), and reports latency
percentiles, the rate achieved and errors. Latency is measured from the moment each
request was *scheduled*, so a slow server cannot hide its queueing (no coordinated
omission); the pure service time is shown beside it.

Run with the backend's environment (it needs httpx), against a seeded backend:

    cd loyalty_backend && uv run python ../bench/backend_balance.py \
        --url http://127.0.0.1:8000 --rate 100 --duration 20

It reads the balance as the action server does, with SERVICE_TOKEN (scope ``ledger:read``):
``--token``, else the environment, else the repository's ``.env`` (which ``make run``
writes). There is no built-in fallback: the backend has no default secret either.

Only send this to a server on this machine.
"""

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Seeded by `python -m app.initial_data`: the five demo fixtures, the other distributors
# and the generated wholesalers and retailers.
SEEDED_WA_IDS = (
    [f"628120000000{n}" for n in range(1, 6)]
    + [f"628130000000{n}" for n in range(1, 6)]
    + [f"6281300000{n}" for n in range(101, 140)]
)


DOTENV = Path(__file__).resolve().parents[1] / ".env"


def dotenv_value(name: str, path: Path = DOTENV) -> str | None:
    """``NAME=value`` from a dotenv file (no interpolation), or None."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("'\"") or None
    return None


def default_token() -> str | None:
    return os.environ.get("SERVICE_TOKEN", "").strip() or dotenv_value("SERVICE_TOKEN")


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)  # from scheduled time
    service_ms: list[float] = field(default_factory=list)  # from actual send
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


async def one_request(
    client: httpx.AsyncClient, wa_id: str, scheduled: float, results: Results
) -> None:
    sent = time.perf_counter()
    try:
        response = await client.get(f"/api/v1/partners/by-wa/{wa_id}/balance")
        key = str(response.status_code)
        ok = response.status_code == 200
    except httpx.HTTPError as exc:
        key, ok = type(exc).__name__, False
    done = time.perf_counter()
    results.statuses[key] = results.statuses.get(key, 0) + 1
    if ok:
        results.latencies_ms.append((done - scheduled) * 1000)
        results.service_ms.append((done - sent) * 1000)
    else:
        results.errors += 1


async def run(url: str, token: str, rate: float, duration: float, timeout: float) -> None:
    total = int(rate * duration)
    results = Results()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=timeout
    ) as client:
        warm = await client.get(f"/api/v1/partners/by-wa/{SEEDED_WA_IDS[0]}/balance")
        if warm.status_code != 200:
            hint = ""
            if warm.status_code in (401, 403):
                hint = " (is --token the backend's SERVICE_TOKEN?)"
            raise SystemExit(f"warm-up failed{hint}: {warm.status_code} {warm.text[:200]}")
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            wa_id = SEEDED_WA_IDS[i % len(SEEDED_WA_IDS)]
            tasks.append(asyncio.create_task(one_request(client, wa_id, scheduled, results)))
        issued_in = time.perf_counter() - start
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start

    lat, svc = results.latencies_ms, results.service_ms
    print(f"target: {rate:g} req/s for {duration:g} s -> {total} requests to {url}")
    print(f"issued: {total} in {issued_in:.2f} s ({total / issued_in:.1f} req/s offered)")
    print(f"completed: {len(lat)} ok in {elapsed:.2f} s ({len(lat) / elapsed:.1f} req/s achieved)")
    print(f"errors: {results.errors}   statuses: {results.statuses}")
    if lat:
        print(
            "latency ms (from schedule): "
            f"p50 {percentile(lat, 50):.2f}  p95 {percentile(lat, 95):.2f}  "
            f"p99 {percentile(lat, 99):.2f}  max {max(lat):.2f}  mean {statistics.fmean(lat):.2f}"
        )
        print(
            "service ms (from send):     "
            f"p50 {percentile(svc, 50):.2f}  p95 {percentile(svc, 95):.2f}  "
            f"p99 {percentile(svc, 99):.2f}  max {max(svc):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Open-loop balance lookup benchmark")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument(
        "--token",
        default=default_token(),
        help="the backend's SERVICE_TOKEN (default: $SERVICE_TOKEN, else ../.env)",
    )
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0:
        parser.error("rate and duration must be positive")
    if not args.token:
        parser.error("no SERVICE_TOKEN: pass --token, export it, or run `make run` for .env")
    asyncio.run(run(args.url, args.token, args.rate, args.duration, args.timeout))


if __name__ == "__main__":
    main()
