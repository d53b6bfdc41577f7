"""A sales claim in chat, timed as the partner sees it.

    .venv/bin/python -m bench.claim_chat_bench [--claims 10]

Starts the whole stack (as ``make run``: gateway, Rasa, action server, backend, sandbox),
pushes ERP sales lines for ``--claims`` new invoices of the five demo partners through the
ERP API, renders a phone photo of each invoice (the OCR test-set generator, run with the
backend's Python), then for each: the photo is sent as a signed WhatsApp image message,
and the time to the bot's draft (download, OCR, catalogue) is measured; the partner taps
the confirm button, and the time to the claim's answer (submit, ERP match, earn rules,
ledger credit) is measured. Prints p50/p95/max of both and how the claims ended.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.common import percentile
from tests.e2e.conftest import inbound, message_text, sent_to
from tests.support.demo import FIXTURES
from tests.support.processes import (
    BACKEND_BIN,
    ERP_API_KEY,
    ROOT,
    Process,
    running,
    start_stack,
)

CUSTOMER_CODES = {wa_id: f"CUST-{n:04d}" for n, wa_id in enumerate(FIXTURES, start=1)}

# Renders invoices with the OCR test-set generator (backend venv: Pillow, OpenCV).
RENDER = """
import json, random, sys
from datetime import date
from pathlib import Path
sys.path.insert(0, {root!r})
from bench.invoices.generate import Fonts, Invoice, Line, draw_full, photograph
for spec in json.loads(Path({specs!r}).read_text()):
    inv = Invoice(
        seller="PT Distribusi Nusantara", seller_address="Jl. Gatot Subroto No. 12, Medan",
        seller_phone="061-4521 889", title="FAKTUR PENJUALAN", invoice_no=spec["invoice_no"],
        invoice_date=date.fromisoformat(spec["invoice_date"]), date_text=spec["date_text"],
        due_text=spec["date_text"], customer_code=spec["customer_code"],
        customer_name="Toko", no_label="No. Faktur", date_label="Tanggal",
        code_label="Kode Plg", to_label="Kepada",
        lines=[Line("KSGA-24", "KOPI SUSU GULA AREN 24X200ML", spec["qty"], "KRT", 96000,
                    "KSGA-24"),
               Line("TML-48", "TEH MELATI 48X250ML", 3, "KRT", 120000, "TML-48")],
    )
    rng = random.Random(spec["seed"])
    photo = photograph(draw_full(inv, Fonts("sans", 30), rng, "grid"), rng, harsh=0.35,
                       background=(70, 105, 140))
    Path(spec["path"]).write_bytes(photo)
"""


def render_invoices(specs: list[dict[str, Any]], work: Path) -> None:
    specs_file = work / "specs.json"
    specs_file.write_text(json.dumps(specs))
    subprocess.run(
        [str(BACKEND_BIN / "python"), "-c", RENDER.format(root=str(ROOT), specs=str(specs_file))],
        check=True, timeout=300,
    )


def wait_for(sandbox: Process, wa_id: str, count: int, timeout: float = 120) -> dict[str, Any]:
    """The ``count``-th message the bot sent to ``wa_id``, polled every 50 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = [m for m in sent_to(sandbox, wa_id) if m.get("type") != "read"]
        if len(messages) >= count:
            return messages[count - 1]
        time.sleep(0.05)
    raise TimeoutError(f"no message {count} to {wa_id} within {timeout}s")


def summary(name: str, values: list[float]) -> str:
    return (f"{name}: n={len(values)} p50={statistics.median(values):.0f} ms "
            f"p95={percentile(values, 95):.0f} ms max={max(values):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=10)
    args = parser.parse_args()
    run = int(time.time()) % 100_000
    today = time.strftime("%Y-%m-%d")
    day, month, year = today[8:10], today[5:7], today[0:4]
    specs = [
        {"invoice_no": f"INV/BN/{run:05d}/{n:04d}", "invoice_date": today,
         "date_text": f"{day}/{month}/{year}", "qty": 4 + n % 7, "seed": n,
         "wa_id": FIXTURES[n % len(FIXTURES)],
         "customer_code": CUSTOMER_CODES[FIXTURES[n % len(FIXTURES)]]}
        for n in range(args.claims)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for spec in specs:
            spec["path"] = str(work / f"{spec['seed']}.jpg")
        render_invoices(specs, work)
        (work / "logs").mkdir()
        stack = start_stack(work / "logs", gateway=True)
        with running(*stack.processes):
            lines = [
                {"invoice_no": s["invoice_no"], "invoice_date": s["invoice_date"],
                 "customer_code": s["customer_code"], "sku": sku, "quantity": qty,
                 "unit_price": 96000}
                for s in specs for sku, qty in (("KSGA-24", s["qty"]), ("TML-48", 3))
            ]
            pushed = requests.post(
                f"{stack.backend.url}/api/v1/integrations/erp/sales-lines", json={"lines": lines},
                headers={"Authorization": f"Bearer {ERP_API_KEY}"}, timeout=30,
            )
            pushed.raise_for_status()
            to_draft: list[float] = []
            to_answer: list[float] = []
            outcomes: dict[str, int] = {}
            for spec in specs:
                wa_id, sandbox = spec["wa_id"], stack.sandbox
                seen = len([m for m in sent_to(sandbox, wa_id) if m.get("type") != "read"])
                with open(spec["path"], "rb") as photo:
                    media = requests.post(f"{sandbox.url}/sandbox/media",
                                          files={"file": ("i.jpg", photo, "image/jpeg")},
                                          timeout=10).json()
                started = time.perf_counter()
                inbound(sandbox, **{"from": wa_id, "image": {"media_id": media["id"]}})
                draft = wait_for(sandbox, wa_id, seen + 1)
                to_draft.append((time.perf_counter() - started) * 1000)
                buttons = draft.get("interactive", {}).get("action", {}).get("buttons", [])
                confirm = next((b["reply"] for b in buttons if b["reply"]["id"] == "/affirm"), None)
                if confirm is None:
                    outcomes["not read as a complete invoice"] = outcomes.get(
                        "not read as a complete invoice", 0) + 1
                    continue
                started = time.perf_counter()
                inbound(sandbox, **{"from": wa_id, "button_reply": confirm})
                answer = message_text(wait_for(sandbox, wa_id, seen + 2))
                to_answer.append((time.perf_counter() - started) * 1000)
                assert answer, "the claim's answer has no text"
            prefix = f"INV/BN/{run:05d}/"
            claims = [
                claim for wa_id in FIXTURES
                for claim in stack.backend_get(f"/partners/by-wa/{wa_id}/claims?limit=50")["items"]
                if (claim["invoice_no"] or "").startswith(prefix)
            ]
    print(summary("photo → draft (download, OCR, catalogue)", to_draft), flush=True)
    if to_answer:
        print(summary("confirm → answer (submit, ERP match, rules, ledger)", to_answer), flush=True)
    statuses: dict[str, int] = {}
    for claim in claims:
        statuses[claim["status"]] = statuses.get(claim["status"], 0) + 1
    why = sorted({reason["code"] for claim in claims if claim["status"] != "approved"
                  for reason in claim["reasons"]})
    unread = outcomes.get("not read as a complete invoice", 0)
    print(f"claims: {statuses} (not approved because: {why or '-'}); photos not read as a "
          f"complete invoice: {unread}", flush=True)


if __name__ == "__main__":
    main()
