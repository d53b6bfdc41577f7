"""OCR field accuracy and seconds per photo on the synthetic invoice sets.

    loyalty_backend/.venv/bin/python bench/ocr_bench.py [--limit N] [--jobs 1] [--split dev]

Generates var/ocr_set/{dev,heldout} when missing (bench/invoices/generate.py), reads
every photo with app.ocr and with a naive baseline (plain Tesseract text + simple
regexes), and prints per-field accuracy, overall accuracy and p50/p95 seconds per photo.
Fields: invoice_no, invoice_date, customer_code, seller, and each invoice line (SKU and
quantity both right; a line read that is not on the invoice counts as a wrong field).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "loyalty_backend"))
sys.path.insert(0, str(ROOT / "bench" / "invoices"))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import generate  # noqa: E402
import yaml  # noqa: E402
from app.ocr import Matcher, read_invoice  # noqa: E402
from common import percentile  # noqa: E402 - bench/common.py, the script's folder

FIELDS = ("invoice_no", "invoice_date", "customer_code", "seller")
DEFAULT_SIZES = {"dev": 120, "heldout": 120}


def load_catalogue() -> list[tuple[str, str, tuple[str, ...]]]:
    path = ROOT / "content" / "catalogue.yml"
    data = yaml.safe_load(path.read_text())
    return [(p["sku"], p["name"], tuple(p.get("synonyms") or ())) for p in data["products"]]


def _norm(value: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value).lower()) if value is not None else ""


def score(truth: dict, read: dict) -> dict[str, tuple[int, int]]:
    """(right, counted) per field."""
    out = {}
    for name in FIELDS:
        ok = read.get(name) is not None and _norm(read.get(name)) == _norm(truth[name])
        out[name] = (int(ok), 1)
    want = Counter((ln["sku"], ln["quantity"]) for ln in truth["lines"])
    got = Counter((ln["sku"], ln["quantity"]) for ln in read.get("lines", []))
    right = sum((want & got).values())
    out["lines"] = (right, max(sum(want.values()), sum(got.values())))
    return out


# --- the naive baseline ---------------------------------------------------------------


MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr mei jun jul agu sep okt nov des".split())}
MONTHS.update({"may": 5, "aug": 8, "agt": 8, "oct": 10, "dec": 12})


def naive_read(data: bytes, catalogue: list) -> dict:
    """Plain Tesseract text (no preprocessing) and the regexes one writes first: labels
    with "No.", the usual date shapes, CUST-nnnn, the first line as the seller, and per
    text line the closest catalogue name or synonym with the first count after it."""
    import cv2
    import numpy as np
    import pytesseract
    from rapidfuzz import fuzz, process

    started = time.perf_counter()
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    text = pytesseract.image_to_string(img, lang="ind+eng")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    number = re.search(
        r"No\.?\s*(?:Faktur|Invoice|Nota|Transaksi)\s*:?\s*([A-Z0-9][A-Z0-9/\-.]{4,})", text, re.I
    )
    day = None
    m = re.search(r"(?:Tgl|Tanggal|Date)[^:\n]*:\s*([^\n]+)", text, re.I)
    where = m.group(1) if m else text
    if d := re.search(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", where):
        day = (int(d.group(3)), int(d.group(2)), int(d.group(1)))
    elif d := re.search(r"(\d{4})-(\d{1,2})-(\d{1,2})", where):
        day = (int(d.group(1)), int(d.group(2)), int(d.group(3)))
    elif (d := re.search(r"(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{4})", where)) and d.group(
        2
    ).lower() in MONTHS:
        day = (int(d.group(3)), MONTHS[d.group(2).lower()], int(d.group(1)))
    cust = re.search(r"CUST-\d{4}", text)
    names = {}
    for sku, name, synonyms in catalogue:
        for form in (name, *synonyms):
            if len(form.split()) >= 2:  # one-word synonyms ("teh") match any line
                names[form.upper()] = sku
    items = []
    for ln in lines:
        best = process.extractOne(
            ln.upper(), list(names), scorer=fuzz.token_set_ratio, score_cutoff=70
        )
        if not best:
            continue
        counts = re.findall(r"(?<![\w.,(/-])(\d{1,4})(?![\w.,)/])", ln)  # whole numbers
        if counts and ln.startswith(counts[0]):
            counts = counts[1:]  # the row number
        if counts:
            items.append({"sku": names[best[0]], "quantity": int(counts[0])})
    return {
        "invoice_no": number.group(1) if number else None,
        "invoice_date": f"{day[0]}-{day[1]:02d}-{day[2]:02d}" if day else None,
        "customer_code": cust.group(0) if cust else None,
        "seller": lines[0] if lines else None,
        "lines": items,
        "seconds": time.perf_counter() - started,
    }


# --- running --------------------------------------------------------------------------

_MATCHER: Matcher | None = None
_CATALOGUE: list = []


def _init() -> None:
    global _MATCHER, _CATALOGUE
    _CATALOGUE = load_catalogue()
    _MATCHER = Matcher(_CATALOGUE)


def _one(args: tuple[str, str]) -> tuple[str, dict, dict, dict]:
    jpg, method = args
    data = Path(jpg).read_bytes()
    before = os.times()
    truth = json.loads(Path(jpg).with_suffix(".json").read_text())
    if method == "naive":
        read = naive_read(data, _CATALOGUE)
    else:
        assert _MATCHER is not None
        read = read_invoice(data, "image/jpeg", _MATCHER).as_dict()
    after = os.times()
    # CPU seconds of this process and of its tesseract children: what the photo costs
    # whatever else the machine is doing
    read["cpu"] = sum(after[:4]) - sum(before[:4])
    return jpg, truth, read, score(truth, read)


def ensure_set(out: Path, split: str, count: int) -> list[Path]:
    folder = out / split
    complete = folder / "COMPLETE"
    if not complete.exists() or int(complete.read_text()) < count:
        print(f"generating {count} {split} photos into {folder} ...", flush=True)
        generate.generate(out, split, count)
    return sorted(folder.glob("*.jpg"))[:count]


def run(photos: list[Path], method: str, jobs: int, show_errors: int) -> dict:
    totals: dict[str, list[int]] = {name: [0, 0] for name in (*FIELDS, "lines")}
    seconds: list[float] = []
    cpu: list[float] = []
    errors: list[str] = []
    novel = [0, 0]  # fields right / counted on photos drawn with a layout or font dev lacks
    work = [(str(p), method) for p in photos]
    if jobs > 1:
        with ProcessPoolExecutor(jobs, initializer=_init) as pool:
            results = list(pool.map(_one, work, chunksize=2))
    else:
        _init()
        results = [_one(w) for w in work]
    for jpg, truth, read, fields in results:
        seconds.append(read["seconds"])
        cpu.append(read["cpu"])
        unseen = (
            truth["layout"] not in generate.DEV.layouts or truth["font"] not in generate.DEV.fonts
        )
        for name, (right, counted) in fields.items():
            totals[name][0] += right
            totals[name][1] += counted
            if unseen:
                novel[0] += right
                novel[1] += counted
            if right < counted:
                errors.append(
                    f"{Path(jpg).name} [{truth['layout']}/{truth['font']}] {name}: "
                    f"want {_want(truth, name)} got {_want(read, name)}"
                )
    right = sum(t[0] for t in totals.values())
    counted = sum(t[1] for t in totals.values())
    for line in errors[:show_errors]:
        print("   ", line)
    return {
        "fields": {k: v[0] / v[1] for k, v in totals.items() if v[1]},
        "overall": right / counted,
        "n_fields": counted,
        "photos": len(photos),
        "p50": statistics.median(seconds),
        "p95": percentile(seconds, 95),
        "cpu50": statistics.median(cpu),
        "cpu95": percentile(cpu, 95),
        "novel": (novel[0] / novel[1], novel[1]) if novel[1] else None,
    }


def _want(d: dict, name: str) -> object:
    if name == "lines":
        return [(ln["sku"], ln["quantity"]) for ln in d.get("lines", [])]
    return d.get(name)


def report(split: str, method: str, result: dict) -> None:
    per = "  ".join(f"{k}={v:.1%}" for k, v in result["fields"].items())
    print(
        f"{split:8} {method:6} photos={result['photos']} fields={result['n_fields']} "
        f"accuracy={result['overall']:.1%}  p50={result['p50']:.2f}s p95={result['p95']:.2f}s "
        f"(cpu p50={result['cpu50']:.2f}s p95={result['cpu95']:.2f}s)"
    )
    print(f"{'':8} {'':6} {per}", flush=True)
    if result["novel"]:
        share, n = result["novel"]
        print(f"{'':15} photos in a layout or font dev never shows: {share:.1%} of {n} fields")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "ocr_set")
    parser.add_argument("--split", choices=["dev", "heldout", "both"], default="both")
    parser.add_argument(
        "--limit", type=int, help="photos per split (default: dev 120, heldout 120)"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="parallel readers (1 gives honest seconds per photo)"
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--only-baseline", action="store_true")
    parser.add_argument("--errors", type=int, default=0, help="print this many wrong fields")
    args = parser.parse_args()
    splits = ["dev", "heldout"] if args.split == "both" else [args.split]
    for split in splits:
        count = args.limit or DEFAULT_SIZES[split]
        photos = ensure_set(args.out, split, count)
        if not args.only_baseline:
            report(split, "ocr", run(photos, "ocr", args.jobs, args.errors))
        if not args.no_baseline:
            report(split, "naive", run(photos, "naive", args.jobs, 0))


if __name__ == "__main__":
    main()
