"""Redemptions per second on PostgreSQL with 16 concurrent clients, next to pgbench.

Creates a throw-away schema in a database of the local PostgreSQL (user ``postgres``,
trust auth), migrates it, loads the content (catalogue, rules, rewards), creates
``--partners`` partners with points, fills the VCR-50K voucher pool with enough codes,
then runs ``--clients`` concurrent clients for ``--duration`` seconds. Each client
redeems VCR-50K for a random partner through ``redemptions.redeem`` (eligibility, the
partner's account row locked, a voucher code taken with ``FOR UPDATE SKIP LOCKED``, the
points spent oldest lots first, the redemption row, the audit rows: the whole path of
``POST /partners/by-wa/{wa_id}/redemptions`` without HTTP), each redemption its own
transaction. Clients are spread over ``--processes`` processes (threads within each),
because one Python process is bound to one core by its interpreter lock; one per core
measured best (more only add context switches).

In the same run, in ``--rounds`` that alternate with the redemptions, ``pgbench -N``
(TPC-B-like without the contended branch and teller updates: an account update, a select
and a history insert per transaction) with the same number of clients on the same server,
in a schema of its own (scale 10). Each round's figures
and ratio are printed, then the median ratio; the issue's goal is a ratio of at least 0.25.

After the run the bench checks what must hold: every voucher code issued at most once,
no negative balance, each balance equal to the sum of its ledger entries and of its lots.

    cd loyalty_backend && .venv/bin/python ../bench/redemption_bench.py
        [--clients 16] [--processes CORES] [--rounds 3] [--duration 10] [--partners 2000]
        [--json]
"""

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

BACKEND = Path(__file__).resolve().parents[1] / "loyalty_backend"
sys.path.insert(0, str(BACKEND))
os.environ.setdefault("APP_ENV", "development")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from app.commands import load_content  # noqa: E402
from app.core.clock import utcnow, wib_date  # noqa: E402
from app.core.db import make_engine, make_session_factory, write_transaction  # noqa: E402
from app.core.migrations import upgrade_head  # noqa: E402
from app.models import LedgerEntry, PointsAccount, PointsLot  # noqa: E402
from app.models.enums import PartnerRole  # noqa: E402
from app.schemas.reward import RedemptionOut  # noqa: E402
from app.services import ledger, partners, redemptions, tiers, vouchers  # noqa: E402
from app.services.ledger import KeyNamespace  # noqa: E402
from common import percentile  # noqa: E402 - bench/common.py, the script's folder
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REWARD = "VCR-50K"
POINTS_PER_PARTNER = 1_000_000


def _engine(url: str, schema: str, pool_size: int):  # type: ignore[no-untyped-def]
    return make_engine(
        url,
        connect_args={"options": f"-csearch_path={schema}"},
        pool_size=pool_size,
        max_overflow=0,
    )


def _prepare(url: str, schema: str, n_partners: int, n_codes: int) -> list[str]:
    engine = _engine(url, schema, 2)
    try:
        upgrade_head(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            with write_transaction(session):
                tiers.ensure_default_tiers(session)
                load_content.load_content(session)
            partner_ids = []
            for n in range(n_partners):
                partner = partners.create_partner(
                    session,
                    wa_id=f"62898{n:08d}",
                    name=f"Bench Partner {n}",
                    role=PartnerRole.RETAILER,
                    region="DKI Jakarta",
                )
                partner_ids.append(partner.id)
            with write_transaction(session):
                for pid in partner_ids:
                    ledger.earn(
                        session,
                        partner_id=pid,
                        points=POINTS_PER_PARTNER,
                        reason="adjustment",
                        reference_type="bench",
                        reference_id="redemption-bench",
                        idempotency_key=f"{KeyNamespace.SYSTEM.value}bench:{pid}",
                        key_owner=KeyNamespace.SYSTEM,
                    )
            expires = wib_date(utcnow()) + timedelta(days=365)
            for start in range(0, n_codes, 5000):
                codes = [f"BENCH-{i:08d}" for i in range(start, min(n_codes, start + 5000))]
                vouchers.import_codes(session, REWARD, codes, expires_at=expires, actor="bench")
        return [f"62898{n:08d}" for n in range(n_partners)]  # the WhatsApp ids
    finally:
        engine.dispose()


def _client_process(
    url: str,
    schema: str,
    wa_ids: list[str],
    threads: int,
    deadline: float,
    seed: int,
    out: "mp.Queue[dict[str, Any]]",
) -> None:
    engine = _engine(url, schema, threads)
    factory = make_session_factory(engine)
    timings: list[float] = []
    refused: dict[str, int] = {}
    lock = threading.Lock()

    def run(thread_no: int) -> None:
        rng = random.Random(seed * 1000 + thread_no)
        mine: list[float] = []
        n = 0
        with factory() as session:
            while time.time() < deadline:
                wa_id = rng.choice(wa_ids)
                started = time.perf_counter()
                try:
                    result = redemptions.redeem(
                        session,
                        wa_id,
                        reward_code=REWARD,
                        idempotency_key=f"bench:{seed}:{thread_no}:{n}",
                        actor="bench",
                    )
                    RedemptionOut.from_receipt(result.receipt)  # the route's response body
                except Exception as exc:  # counted and shown: the bench expects none
                    session.rollback()
                    with lock:
                        refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
                else:
                    mine.append((time.perf_counter() - started) * 1000)
                n += 1
                session.expunge_all()
        with lock:
            timings.extend(mine)

    cpu_before = time.process_time()
    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    engine.dispose()
    out.put(
        {"timings": timings, "refused": refused, "cpu": time.process_time() - cpu_before}
    )


def _redeem_load(
    url: str,
    schema: str,
    wa_ids: list[str],
    clients: int,
    processes: int,
    duration: float,
    round_no: int,
) -> dict[str, Any]:
    context = mp.get_context("fork")
    out: mp.Queue[dict[str, Any]] = context.Queue()
    per_process = [clients // processes + (i < clients % processes) for i in range(processes)]
    started = time.time()
    deadline = started + duration
    children = [
        context.Process(
            target=_client_process,
            args=(url, schema, wa_ids, threads, deadline, round_no * 100 + index, out),
        )
        for index, threads in enumerate(per_process)
        if threads
    ]
    for child in children:
        child.start()
    results = [out.get() for _ in children]
    for child in children:
        child.join()
    wall = time.time() - started
    timings = [t for r in results for t in r["timings"]]
    client_cpu = sum(r["cpu"] for r in results)
    refused: dict[str, int] = {}
    for r in results:
        for name, count in r["refused"].items():
            refused[name] = refused.get(name, 0) + count
    return {
        "clients": clients,
        "processes": len(children),
        "seconds": round(wall, 1),
        "redemptions": len(timings),
        "per_second": round(len(timings) / wall, 1),
        "ms_p50": round(statistics.median(timings), 1) if timings else None,
        "ms_p95": round(percentile(timings, 95), 1) if timings else None,
        "refused": refused,
        # Where the two cores went: the clients' own Python (the service code, SQLAlchemy,
        # the driver) against the wall time; the rest of the machine is PostgreSQL.
        "client_cpu_cores": round(client_cpu / wall, 2),
        "client_cpu_ms_per_redemption": round(client_cpu * 1000 / len(timings), 2)
        if timings
        else None,
    }


def _check(url: str, schema: str) -> dict[str, Any]:
    engine = _engine(url, schema, 1)
    try:
        with engine.connect() as conn:
            reissued = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT voucher_code_id FROM redemption "
                    "WHERE voucher_code_id IS NOT NULL GROUP BY voucher_code_id "
                    "HAVING count(*) > 1) AS twice"
                )
            ).scalar_one()
            negative = conn.execute(
                select(func.count()).where(PointsAccount.balance < 0)
            ).scalar_one()
            entries = (
                select(LedgerEntry.partner_id, func.sum(LedgerEntry.delta).label("total"))
                .group_by(LedgerEntry.partner_id)
                .subquery()
            )
            lots = (
                select(PointsLot.partner_id, func.sum(PointsLot.points_remaining).label("left"))
                .group_by(PointsLot.partner_id)
                .subquery()
            )
            mismatched = conn.execute(
                select(func.count())
                .select_from(PointsAccount)
                .join(entries, entries.c.partner_id == PointsAccount.partner_id)
                .join(lots, lots.c.partner_id == PointsAccount.partner_id)
                .where(
                    (PointsAccount.balance != entries.c.total)
                    | (PointsAccount.balance != lots.c.left)
                )
            ).scalar_one()
        return {
            "voucher_codes_issued_twice": reissued,
            "negative_balances": negative,
            "balances_not_matching_ledger_or_lots": mismatched,
        }
    finally:
        engine.dispose()


def _pgbench(
    url: str, schema: str, clients: int, duration: int, *, initialise: bool
) -> dict[str, Any]:
    """pgbench -N in its own schema of the same database, with the same number of clients
    (``initialise``: create its tables first, scale 10)."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise SystemExit("pgbench is not installed (Debian: postgresql-client)")
    match = re.match(r"postgresql(?:\+\w+)?://([^@/]+)@([^:/]+):(\d+)/(\w+)", url)
    if match is None:
        raise SystemExit(f"cannot read user, host, port and database from {url}")
    user, host, port, database = match.groups()
    env = {**os.environ, "PGOPTIONS": f"-c search_path={schema}"}
    common = ["-h", host, "-p", port, "-U", user]
    if initialise:
        subprocess.run(
            [pgbench, "-i", "-q", "-s", "10", *common, database],
            env=env, check=True, capture_output=True,
        )
    jobs = str(min(clients, os.cpu_count() or 2))
    result = subprocess.run(
        [pgbench, "-N", "-c", str(clients), "-j", jobs, "-T", str(duration), *common, database],
        env=env, check=True, capture_output=True, text=True,
    )
    tps = re.search(
        r"tps = ([\d.]+) \((?:without initial connection time|excluding)", result.stdout
    )
    if tps is None:
        raise SystemExit(f"cannot read tps from pgbench:\n{result.stdout}")
    return {"clients": clients, "jobs": int(jobs), "seconds": duration, "tps": float(tps.group(1))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 2,
        help="client processes (default: one per core, as pgbench gets -j cores; more only "
        "add context switches, fewer leave the clients bound by one interpreter lock)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of each load")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of redemptions then pgbench; the ratio is the median of the rounds' "
        "(this machine's speed drifts: pairs taken close together compare fairly)",
    )
    parser.add_argument("--partners", type=int, default=2000)
    parser.add_argument("--codes", type=int, default=40_000, help="VCR-50K codes in the pool")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database on the local server to create (and drop) the bench schemas in",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    tag = os.getpid()
    schema, pg_schema = f"mitra_redeem_bench_{tag}", f"mitra_pgbench_{tag}"
    admin = make_engine(args.postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        conn.exec_driver_sql(f'CREATE SCHEMA "{pg_schema}"')
    report: dict[str, Any] = {}
    try:
        wa_ids = _prepare(args.postgres_url, schema, args.partners, args.codes)
        rounds = []
        for round_no in range(args.rounds):
            load = _redeem_load(
                args.postgres_url,
                schema,
                wa_ids,
                args.clients,
                args.processes,
                args.duration,
                round_no,
            )
            pg = _pgbench(
                args.postgres_url,
                pg_schema,
                args.clients,
                args.duration,
                initialise=round_no == 0,
            )
            ratio = round(load["per_second"] / pg["tps"], 3)
            rounds.append({"redemptions": load, "pgbench": pg, "ratio": ratio})
        report["rounds"] = rounds
        report["ratio"] = statistics.median(r["ratio"] for r in rounds)
        report["checks"] = _check(args.postgres_url, schema)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{pg_schema}" CASCADE')
        admin.dispose()

    if args.json:
        print(json.dumps(report))
        return 0
    for number, one in enumerate(report["rounds"], start=1):
        r, p = one["redemptions"], one["pgbench"]
        print(
            f"round {number}: redemptions ({r['clients']} clients in {r['processes']} "
            f"processes, {r['seconds']} s): {r['redemptions']:,} = {r['per_second']}/s, "
            f"p50 {r['ms_p50']} ms, p95 {r['ms_p95']} ms, refused {r['refused'] or 'none'}, "
            f"client Python {r['client_cpu_ms_per_redemption']} ms CPU each; "
            f"pgbench -N -c {p['clients']} -j {p['jobs']} -T {p['seconds']}: {p['tps']:.1f} tps; "
            f"ratio {one['ratio']}"
        )
    print(f"ratio redemptions/s to pgbench tps, median of rounds: {report['ratio']} (goal >= 0.25)")
    print(f"checks: {report['checks']}")
    refused = any(one["redemptions"]["refused"] for one in report["rounds"])
    failed = any(report["checks"].values()) or refused
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
