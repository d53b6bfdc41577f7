"""Notices the program sends first (issue 21): the notifier draining the outbox through the
whole stack.

    .venv/bin/python -m bench.notices_bench [--notices 10000] [--partners 2000] [--rate 80]

Starts the stack as the end-to-end tests do (SQLite backend with the demo seed, action
server, WhatsApp sandbox, Rasa with the model in `models/`), adds ``--partners`` partners
to the backend's database and queues ``--notices`` ``points_credited`` notices among them
round-robin (through ``app.services.notifications.enqueue_many``, in the backend's venv:
this script runs itself there with ``--enqueue``), then starts the real notifier
(``python -m app.notifier``) with ``NOTIFIER_MAX_PER_SECOND=--rate``. It waits until the
sandbox (playing Meta's Graph API) has recorded a message for every notice, or until
nothing moves for ``--stall`` seconds, and prints the sends per second sustained (what the
sandbox recorded, between the first and the last send), the total time from the
notifier's start, and the outbox's statuses. Every trigger is a whole Rasa turn
(session start for a new conversation, ``action_notify``, the send and the sandbox's three
status webhooks), so on this 2-core machine Rasa, not the notifier's cap, is usually the
limit; the CPU each process used is printed too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "loyalty_backend"
WA_PREFIX = "62878"  # bench partners: 62878 + 8 digits


def bench_wa_id(index: int) -> str:
    return f"{WA_PREFIX}{index:08d}"


# --- the backend's venv: partners and notices ------------------------------------------


def enqueue(database_url: str, notices: int, partners: int) -> None:
    """Create the bench partners and queue the notices (run in the backend's venv)."""
    sys.path.insert(0, str(BACKEND))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from app.core.db import make_engine, make_session_factory, write_transaction
    from app.models.enums import PartnerRole
    from app.services import notifications
    from app.services import partners as partner_service

    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    created = []
    with factory() as session, write_transaction(session):
        for index in range(partners):
            created.append(
                partner_service.create_partner(
                    session, wa_id=bench_wa_id(index), name=f"Bench {index}",
                    role=PartnerRole.RETAILER, region="Jawa Barat",
                )  # fmt: skip
            )
        made = time.perf_counter() - started
        queued = []
        for n in range(notices):
            partner = created[n % partners]
            queued.append(
                notifications.NewNotice(
                    partner.id, partner.wa_id,
                    {"points": 100 + n % 900, "balance": 5000 + n, "source_id": f"klaim B-{n}",
                     "source_en": f"claim B-{n}"},
                    dedupe_key=f"bench:{n}",
                )  # fmt: skip
            )
        added = notifications.enqueue_many(session, "points_credited", queued)
    print(
        f"created {partners} partners in {made:.1f} s, queued {added} notices in "
        f"{time.perf_counter() - started - made:.1f} s",
        flush=True,
    )
    engine.dispose()


# --- the root venv: the stack, the notifier, the figures --------------------------------


def outbox_statuses(db_path: Path) -> Counter[str]:
    with sqlite3.connect(db_path, timeout=30) as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM notification GROUP BY 1")))


def run(args: argparse.Namespace) -> None:
    import requests

    from bench.common import cpu_shares, format_shares, scale_out_stores
    from tests.support.processes import (
        BACKEND_BIN,
        RASA_AUTH_TOKEN,
        base_env,
        running,
        spawn,
        start_stack,
    )

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as cleanup:
        log_dir = Path(tmp)
        stores: dict[str, Any] = {}
        if args.workers:
            stores = cleanup.enter_context(scale_out_stores(args.workers))
        print(f"starting the stack (backend, action server, sandbox, Rasa: {rasa_setup(args)})"
              "...", flush=True)  # fmt: skip
        stack = start_stack(log_dir, **stores)
        with running(*stack.processes):
            db_path = log_dir / "mitra.db"
            database_url = f"sqlite:///{db_path}"
            subprocess.run(
                [str(BACKEND_BIN / "python"), str(Path(__file__).resolve()), "--enqueue",
                 "--database-url", database_url, "--notices", str(args.notices),
                 "--partners", str(args.partners)],
                cwd=BACKEND, check=True, timeout=1800,
            )  # fmt: skip
            messages = f"{stack.sandbox.url}/sandbox/messages"
            floor = requests.get(messages, timeout=10).json()["last_seq"]
            env = base_env(
                DATABASE_URL=database_url,
                RASA_URL=stack.rasa.url,
                RASA_AUTH_TOKEN=RASA_AUTH_TOKEN,
                NOTIFIER_MAX_PER_SECOND=str(args.rate),
                NOTIFIER_CONCURRENCY=str(args.concurrency),
                LOG_LEVEL="DEBUG",  # one line per trigger, with its duration
            )
            print(
                f"notifier: cap {args.rate}/s, {args.concurrency} concurrent triggers; "
                f"{args.notices} notices for {args.partners} partners",
                flush=True,
            )
            started = time.monotonic()
            notifier = spawn(
                "notifier", [str(BACKEND_BIN / "python"), "-m", "app.notifier"], log_dir, env,
                cwd=BACKEND,
            )  # fmt: skip
            pids = {p.name: p.popen.pid for p in (*stack.processes, notifier)}
            sends: list[datetime] = []
            since = floor
            last_progress = time.monotonic()
            with running(notifier), cpu_shares(pids) as shares:
                while len(sends) < args.notices:
                    answer = requests.get(messages, params={"since": since}, timeout=30).json()
                    since = answer["last_seq"]
                    fresh = [
                        datetime.fromisoformat(m["received_at"])
                        for m in answer["messages"]
                        if str(m.get("to", "")).startswith(WA_PREFIX)
                    ]
                    if fresh:
                        sends += fresh
                        last_progress = time.monotonic()
                        print(f"  {len(sends)} sent after {time.monotonic() - started:.0f} s",
                              flush=True)  # fmt: skip
                    elif time.monotonic() - last_progress > args.stall:
                        print(f"no send for {args.stall} s: stopping", flush=True)
                        break
                    if notifier.popen.poll() is not None:
                        print("the notifier exited:\n" + notifier.tail(), flush=True)
                        break
                    time.sleep(1.0)
                total = time.monotonic() - started
            report(args, sends, total, outbox_statuses(db_path), format_shares(shares))
            print(trigger_latency(notifier.log))
            if len(sends) < args.notices:
                print("notifier log tail:\n" + notifier.tail(20))
                print("rasa log tail:\n" + stack.rasa.tail(20))


def rasa_setup(args: argparse.Namespace) -> str:
    if args.workers:
        return (f"{args.workers} workers, Redis lock store, PostgreSQL tracker store")
    return "one process, SQLite tracker store, in-memory lock store (as make run)"


def report(
    args: argparse.Namespace, sends: list[datetime], total: float, statuses: Counter[str],
    shares: str,
) -> None:
    sends.sort()
    span = (sends[-1] - sends[0]).total_seconds() if len(sends) > 1 else 0.0
    rate = (len(sends) - 1) / span if span else 0.0
    # The busiest second, to compare with the cap.
    per_second = Counter(int((s - sends[0]).total_seconds()) for s in sends) if sends else {}
    peak = max(per_second.values(), default=0)
    print(
        f"notices: {len(sends)}/{args.notices} sent (sandbox-recorded) for {args.partners} "
        f"partners, cap {args.rate}/s, {args.concurrency} concurrent triggers; Rasa: "
        f"{rasa_setup(args)}\n"
        f"sustained: {rate:.1f} messages/s over {span:.1f} s (first to last send); busiest "
        f"second {peak}; total {total:.1f} s from the notifier's start to the last send\n"
        f"outbox: {dict(sorted(statuses.items()))}\n{shares}",
        flush=True,
    )


def trigger_latency(log: Path) -> str:
    """The trigger (the whole Rasa turn) per handed group, from the notifier's log."""
    import json

    from bench.common import percentile

    times = []
    for line in log.read_text(errors="replace").splitlines():
        if '"notice handed to the bot"' in line:
            times.append(json.loads(line)["ms"])
    if not times:
        return "no trigger timings in the notifier's log"
    return (
        f"trigger (the Rasa turn) p50 {percentile(times, 50):.0f} ms, "
        f"p95 {percentile(times, 95):.0f} ms, max {max(times):.0f} ms ({len(times)} triggers)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=80.0, help="NOTIFIER_MAX_PER_SECOND")
    parser.add_argument("--concurrency", type=int, default=8, help="NOTIFIER_CONCURRENCY")
    parser.add_argument("--workers", type=int, default=0,
                        help="Rasa workers (SANIC_WORKERS) with the scale-out stores: Redis "
                             "lock store, PostgreSQL tracker store (0: one process, as make "
                             "run starts it)")  # fmt: skip
    parser.add_argument("--stall", type=float, default=60.0,
                        help="give up after this many seconds without a send")  # fmt: skip
    parser.add_argument("--enqueue", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.enqueue:
        enqueue(args.database_url, args.notices, args.partners)
    else:
        run(args)


if __name__ == "__main__":
    main()
