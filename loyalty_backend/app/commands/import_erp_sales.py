"""Import ERP sales lines from CSV: ``python -m app.commands.import_erp_sales FILE.csv``.

The same rules as ``POST /api/v1/integrations/erp/sales-lines`` (app/services/erp.py):
a header row with ``invoice_no, invoice_date, customer_code, sku, quantity, unit_price``
and optionally ``seller`` (any order, extra columns ignored), UTF-8 (a BOM is fine),
comma- or semicolon-separated. Lines go in batches of ``erp.MAX_LINES_PER_CALL``; each
batch is idempotent, so a failed import can simply be run again.

Prints one line per refused row (``row N: reason``, the header being row 1) and a
summary; the exit status is 0 when every row was accepted or a duplicate, 1 when some
were rejected, 2 when the file cannot be read at all.
"""

import argparse
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from app.services import erp

REQUIRED = ("invoice_no", "invoice_date", "customer_code", "sku", "quantity", "unit_price")
OPTIONAL = ("seller",)


class CSVFormatError(ValueError):
    pass


@dataclass(frozen=True)
class CSVRow:
    row: int  # 1 is the header
    values: dict[str, str]


@dataclass(frozen=True)
class ImportReport:
    accepted: int
    duplicates: int
    rejected: tuple[tuple[int, str], ...]  # (row number, reason)


def read_rows(path: Path) -> Iterator[CSVRow]:
    """The data rows of a sales-lines CSV, with their row numbers."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(handle, delimiter=delimiter)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise CSVFormatError(f"row 1: missing column(s): {', '.join(missing)}")
        columns = {name: header.index(name) for name in (*REQUIRED, *OPTIONAL) if name in header}
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, e.g. at the end of the file
            values = {
                name: cells[index].strip() if index < len(cells) else ""
                for name, index in columns.items()
            }
            yield CSVRow(number, values)


def import_rows(session: Session, rows: list[CSVRow], source: str) -> ImportReport:
    accepted = duplicates = 0
    rejected: list[tuple[int, str]] = []
    for start in range(0, len(rows), erp.MAX_LINES_PER_CALL):
        batch = rows[start : start + erp.MAX_LINES_PER_CALL]
        result = erp.ingest(session, [r.values for r in batch], source=source)
        accepted += result.accepted
        duplicates += result.duplicates
        rejected.extend((batch[r.index].row, r.reason) for r in result.rejected)
    return ImportReport(accepted, duplicates, tuple(rejected))


def import_file(session: Session, path: Path) -> ImportReport:
    return import_rows(session, list(read_rows(path)), source=f"csv:{path.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="CSV file of sales lines")
    args = parser.parse_args(argv)
    from app.core.db import get_session_factory  # here: --help needs no database

    try:
        rows = list(read_rows(args.file))
    except (OSError, UnicodeDecodeError, CSVFormatError, csv.Error) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    with get_session_factory()() as session:
        report = import_rows(session, rows, source=f"csv:{args.file.name}")
    for row, reason in report.rejected:
        print(f"{args.file}: row {row}: {reason}", file=sys.stderr)
    print(
        f"{args.file}: {report.accepted} accepted, {report.duplicates} duplicates, "
        f"{len(report.rejected)} rejected"
    )
    return 1 if report.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
