"""Points lots expire at the end of a WIB day, not at the time of day they were earned.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-15

``points_lot.expires_at`` becomes the last instant (23:59:59.999999 WIB) of the WIB date
it fell on; a lot is expired when ``expires_at < now``. Partners were shown that date,
so nobody loses a day. Downgrade puts back the earn time of day (from ``earned_at``).

Self-contained on purpose (no imports from app/). WIB is UTC+7 with no daylight saving,
so the arithmetic below uses a fixed 7-hour offset. SQLite stores naive UTC text
``YYYY-MM-DD HH:MM:SS.ffffff``; 23:59:59.999999 WIB is 16:59:59.999999 UTC. SQLite's date
functions round to milliseconds (``59.999999`` would become the next day), so dates are
taken from the value cut to whole seconds.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_WIB = "((expires_at AT TIME ZONE 'UTC') + INTERVAL '7 hours')"


def _sqlite_wib_date(column: str) -> str:
    return f"date(substr({column}, 1, 19), '+7 hours')"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "UPDATE points_lot SET expires_at = ("
            f"date_trunc('day', {_PG_WIB}) + INTERVAL '1 day' - INTERVAL '1 microsecond'"
            " - INTERVAL '7 hours') AT TIME ZONE 'UTC'"
        )
    elif dialect == "sqlite":
        op.execute(
            "UPDATE points_lot SET expires_at = "
            f"{_sqlite_wib_date('expires_at')} || ' 16:59:59.999999'"
        )
    else:  # pragma: no cover - only the two supported databases
        raise NotImplementedError(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "UPDATE points_lot SET expires_at = earned_at + ("
            f"date({_PG_WIB}) - "
            "date((earned_at AT TIME ZONE 'UTC') + INTERVAL '7 hours')"
            ") * INTERVAL '1 day'"
        )
    elif dialect == "sqlite":
        days = (
            f"CAST(julianday({_sqlite_wib_date('expires_at')}) - "
            f"julianday({_sqlite_wib_date('earned_at')}) AS INTEGER)"
        )
        op.execute(
            "UPDATE points_lot SET expires_at = "
            f"datetime(substr(earned_at, 1, 19), {days} || ' days') || substr(earned_at, 20)"
        )
    else:  # pragma: no cover
        raise NotImplementedError(dialect)
