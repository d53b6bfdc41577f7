"""Claim judging throughput on PostgreSQL with 100,000 ERP sales lines loaded.

Creates a throw-away schema in a database of the local PostgreSQL (user ``postgres``,
trust auth; a schema rather than a database because CREATE/DROP DATABASE takes about a
minute on this machine, and a schema isolates just as well), migrates it, loads the
catalogue and earn rules, creates partners with customer codes, loads ``--lines`` ERP
lines through the ingest service (as the API and the CSV import do), then submits
``--claims`` sales claims through ``claims.submit_claim`` (store, commit, judge, credit:
the whole path of ``POST /partners/by-wa/{wa_id}/claims`` without HTTP) and reports claims
per second and milliseconds per claim (p50/p95/max). Claims are a realistic mix: most
match the ERP data (approved and credited), one in ten is not in the ERP data yet
(pending review), one in ten claims more than the invoice (rejected). The sequential
phase is one request at a time; the concurrent phase runs ``--workers`` threads, each
with its own connection. The schema is dropped at the end.

Run with the backend's environment, from the repository root or anywhere:

    cd loyalty_backend && .venv/bin/python ../bench/claims_bench.py [--lines 100000]
        [--claims 1000] [--workers 8] [--json]

Only meant for a PostgreSQL on this machine (``--postgres-url``).
"""

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from app.models import Partner, PointsAccount  # noqa: E402
from app.models.enums import PartnerRole  # noqa: E402
from app.services import claims, erp, partners, tiers  # noqa: E402
from common import percentile  # noqa: E402 - bench/common.py, the script's folder
from sqlalchemy import Engine, select  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

SKUS = ("KSGA-24", "KHT-24", "TML-48", "SCK-12", "KSLS-24", "BKL-20", "K3S-50", "AMN-24")
INGEST_CHUNK = 5000  # the API's maximum per call
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class PlannedClaim:
    partner_index: int
    invoice_no: str
    lines: dict[str, int]
    outcome: str  # what it should become: approved, pending_review, rejected


def _build_world(rng: random.Random, n_partners: int, n_lines: int) -> tuple[list, dict]:
    """ERP rows (invoices of 1-4 lines) and, per partner, the invoices that are theirs."""
    today = wib_date(utcnow())
    rows: list[dict[str, Any]] = []
    invoices: dict[int, list[tuple[str, dict[str, int]]]] = {i: [] for i in range(n_partners)}
    serial = 0
    while len(rows) < n_lines:
        serial += 1
        # Most lines belong to customers who never use the programme (9 of 10).
        owner = rng.randrange(n_partners * 10)
        code = f"BENCH-{owner:06d}"
        day = today - timedelta(days=rng.randrange(1, 60))
        lines = {sku: rng.randint(5, 20) for sku in rng.sample(SKUS, rng.randint(1, 4))}
        invoice_no = f"INV/BN/{day:%y%m}/{serial:06d}"
        for sku, quantity in lines.items():
            rows.append(
                {
                    "invoice_no": invoice_no,
                    "invoice_date": day.isoformat(),
                    "customer_code": code,
                    "sku": sku,
                    "quantity": quantity,
                    "unit_price": 100000,
                    "seller": "PT Bench Distribusi",
                }
            )
        if owner < n_partners:
            invoices[owner].append((invoice_no, lines))
    return rows[:n_lines], invoices


def _plan(
    rng: random.Random, invoices: dict[int, list[tuple[str, dict[str, int]]]], count: int
) -> list[PlannedClaim]:
    pool = [(p, inv, lines) for p, items in invoices.items() for inv, lines in items]
    rng.shuffle(pool)
    if len(pool) < count:
        raise SystemExit(f"only {len(pool)} partner invoices for {count} claims: add --lines")
    planned = []
    for n, (partner, invoice_no, lines) in enumerate(pool[:count]):
        roll = n % 10
        if roll == 8:  # not in the ERP data yet
            planned.append(
                PlannedClaim(partner, f"INV/NEW/{n:06d}", {"KSGA-24": 3}, "pending_review")
            )
        elif roll == 9:  # more than the invoice says
            sku, quantity = next(iter(lines.items()))
            planned.append(PlannedClaim(partner, invoice_no, {sku: quantity + 5}, "rejected"))
        else:
            planned.append(PlannedClaim(partner, invoice_no, dict(lines), "approved"))
    return planned


def _run_phase(
    engine: Engine, partner_ids: list[int], planned: list[PlannedClaim], workers: int
) -> dict[str, Any]:
    factory = make_session_factory(engine)
    timings: list[float] = []
    outcomes: dict[str, int] = {}
    mismatched = 0
    lock = threading.Lock()
    local = threading.local()

    def one(index: int) -> None:
        nonlocal mismatched
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = factory()
        item = planned[index]
        partner = session.get(Partner, partner_ids[item.partner_index])
        started = time.perf_counter()
        result = claims.submit_claim(
            session,
            partner,
            kind="sales",
            invoice_no=item.invoice_no,
            invoice_date=None,
            lines=[{"sku": s, "quantity": q} for s, q in item.lines.items()],
            image_id=None,
            idempotency_key=f"bench:{item.invoice_no}:{index}",
        )
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            timings.append(elapsed)
            outcomes[result.claim.status] = outcomes.get(result.claim.status, 0) + 1
            mismatched += result.claim.status != item.outcome

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(len(planned))))
    wall = time.perf_counter() - started
    return {
        "workers": workers,
        "claims": len(planned),
        "seconds": round(wall, 2),
        "claims_per_second": round(len(planned) / wall, 1),
        "ms_p50": round(statistics.median(timings), 1),
        "ms_p95": round(percentile(timings, 95), 1),
        "ms_max": round(max(timings), 1),
        "outcomes": dict(sorted(outcomes.items())),
        "unexpected_outcomes": mismatched,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000, help="ERP lines to load")
    parser.add_argument("--claims", type=int, default=1000, help="claims per phase")
    parser.add_argument("--partners", type=int, default=500, help="partners in the programme")
    parser.add_argument("--workers", type=int, default=8, help="threads, concurrent phase")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database on the local server to create (and drop) the bench schema in",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    rng = random.Random(20261128)
    name = f"mitra_claims_bench_{os.getpid()}"
    admin = make_engine(args.postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    engine = make_engine(
        args.postgres_url,
        connect_args={"options": f"-csearch_path={name}"},
        pool_size=args.workers + 2,
        max_overflow=0,
    )
    report: dict[str, Any] = {"erp_lines": args.lines, "partners": args.partners}
    try:
        upgrade_head(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            with write_transaction(session):
                tiers.ensure_default_tiers(session)
                load_content.load_content(session)
            partner_ids = []
            for n in range(args.partners):
                partner = partners.create_partner(
                    session,
                    wa_id=f"62899{n:08d}",
                    name=f"Bench Partner {n}",
                    role=PartnerRole.RETAILER,
                    region="DKI Jakarta",
                )
                partner_ids.append(partner.id)
            with write_transaction(session):
                for n, pid in enumerate(partner_ids):
                    session.get(Partner, pid).erp_customer_code = f"BENCH-{n:06d}"

            rows, invoices = _build_world(rng, args.partners, args.lines)
            started = time.perf_counter()
            accepted = 0
            for start in range(0, len(rows), INGEST_CHUNK):
                result = erp.ingest(session, rows[start : start + INGEST_CHUNK], source="bench")
                accepted += result.accepted
            ingest_seconds = time.perf_counter() - started
            report["ingest"] = {
                "accepted": accepted,
                "seconds": round(ingest_seconds, 1),
                "lines_per_second": round(accepted / ingest_seconds),
            }

        planned = _plan(rng, invoices, args.claims * 2)
        report["sequential"] = _run_phase(engine, partner_ids, planned[: args.claims], 1)
        report["concurrent"] = _run_phase(engine, partner_ids, planned[args.claims :], args.workers)
        with factory() as session:
            report["points_credited"] = int(
                sum(session.scalars(select(PointsAccount.balance)).all())
            )
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        admin.dispose()

    if args.json:
        print(json.dumps(report))
        return 0
    ingest = report["ingest"]
    print(
        f"ERP lines loaded: {ingest['accepted']:,} in {ingest['seconds']} s "
        f"({ingest['lines_per_second']:,} lines/s, through erp.ingest in chunks of 5,000)"
    )
    for phase in ("sequential", "concurrent"):
        r = report[phase]
        print(
            f"{phase:>10} ({r['workers']} worker{'s' if r['workers'] > 1 else ''}): "
            f"{r['claims']} claims in {r['seconds']} s = {r['claims_per_second']} claims/s; "
            f"per submit+judge p50 {r['ms_p50']} ms, p95 {r['ms_p95']} ms, max {r['ms_max']} ms; "
            f"{r['outcomes']}, unexpected {r['unexpected_outcomes']}"
        )
    print(f"points credited: {report['points_credited']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
