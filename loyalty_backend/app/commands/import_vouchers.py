"""Add voucher codes to a reward's pool from a file (CSV or one code per line).

    python -m app.commands.import_vouchers REWARD_CODE FILE --expires-at YYYY-MM-DD

The same rules as ``POST /api/v1/admin/rewards/{code}/vouchers`` (app/services/vouchers.py).
The file is what voucher issuers send: one code per line, or a CSV (comma or semicolon,
UTF-8, a BOM is fine) whose header has a ``code`` column (other columns are ignored);
without such a header the first column of every row is the code. Blank lines are skipped.
``--expires-at`` is a WIB date: the codes can be used until the end of that day.

Prints one line per refused row (``row N: reason``, counting every line of the file from
1) and a summary. Codes already in the pool are duplicates and change nothing, so an
import can be run again. Exit status: 0 when every row was added or a duplicate, 1 when
some were refused, 2 when the file cannot be read or the import as a whole is refused
(unknown reward, not a voucher reward, expiry not in the future).
"""

import argparse
import csv
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from app.services import vouchers
from app.services.errors import InvalidReward, RewardNotFound

CHUNK = 5000  # codes per transaction


@dataclass(frozen=True)
class CodeRow:
    row: int  # line number in the file, from 1
    code: str


@dataclass(frozen=True)
class ImportReport:
    added: int
    duplicates: int
    rejected: tuple[tuple[int, str], ...]  # (row number, reason)


def read_codes(path: Path) -> list[CodeRow]:
    """The codes of the file with their row numbers (module docstring)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        rows = list(enumerate(csv.reader(handle, delimiter=delimiter), start=1))
    column = 0
    if rows:
        header = [cell.strip().lower() for cell in rows[0][1]]
        if "code" in header:
            column = header.index("code")
            rows = rows[1:]
    found = []
    for number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        found.append(CodeRow(number, cells[column].strip() if column < len(cells) else ""))
    return found


def import_rows(
    session: Session, reward_code: str, rows: list[CodeRow], expires_on: date, actor: str
) -> ImportReport:
    added = duplicates = 0
    rejected: list[tuple[int, str]] = []
    for start in range(0, len(rows), CHUNK):
        batch = rows[start : start + CHUNK]
        result = vouchers.import_codes(
            session, reward_code, [r.code for r in batch], expires_at=expires_on, actor=actor
        )
        added += result.added
        duplicates += result.duplicates
        rejected.extend((batch[r.index].row, r.reason) for r in result.rejected)
    return ImportReport(added, duplicates, tuple(rejected))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reward", help="the voucher reward's code, e.g. VCR-50K")
    parser.add_argument("file", type=Path, help="codes: one per line, or a CSV with 'code'")
    parser.add_argument(
        "--expires-at",
        required=True,
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="WIB date: the codes can be used until the end of that day",
    )
    parser.add_argument("--actor", default="admin:cli", help="who imports (audit trail)")
    args = parser.parse_args(argv)
    from app.core.db import get_session_factory  # here: --help needs no database

    try:
        rows = read_codes(args.file)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        with get_session_factory()() as session:
            report = import_rows(session, args.reward, rows, args.expires_at, args.actor)
    except (RewardNotFound, InvalidReward) as exc:
        print(f"{args.file}: {args.reward}: {exc.detail}", file=sys.stderr)
        return 2
    for row, reason in report.rejected:
        print(f"{args.file}: row {row}: {reason}", file=sys.stderr)
    print(
        f"{args.file}: {report.added} added, {report.duplicates} duplicates, "
        f"{len(report.rejected)} rejected"
    )
    return 1 if report.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
