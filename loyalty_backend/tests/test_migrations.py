from datetime import datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.core.clock import WIB
from app.core.migrations import alembic_config, downgrade_base, upgrade_head
from app.models import Base, PointsLot
from app.services import ledger
from tests.conftest import TestDB
from tests.utils import new_partner


def test_migrations_match_the_models(db: TestDB) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_and_upgrade_again(db: TestDB) -> None:
    downgrade_base(db.engine)
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade_head(db.engine)
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())


def _migrate(db: TestDB, revision: str, *, down: bool = False) -> None:
    with db.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_0002_moves_expiry_to_the_end_of_the_wib_day(db: TestDB, session: Session) -> None:
    # Rows are written at head (the ORM knows today's columns, e.g. partner.erp_customer_code),
    # then the schema goes back to 0001 and the lots get the old rule's expiry.
    partner = new_partner(session)
    written = []
    # Written by the old rule: expires at the earn time of day (15:00 WIB), 365 days on.
    rows = [
        (datetime(2024, 3, 1, 15, 0, 0, 123456, tzinfo=WIB), 365),
        (datetime(2024, 3, 1, 23, 30, tzinfo=WIB), 30),  # 16:30 UTC: next day in WIB
        (datetime(2024, 3, 2, 0, 15, tzinfo=WIB), 7),  # 17:15 UTC the day before
        (datetime(2024, 3, 2, 6, 59, 59, 999999, tzinfo=WIB), 1),  # SQLite rounds to ms
    ]
    for n, (earned, days) in enumerate(rows):
        entry = ledger.earn(
            session,
            partner_id=partner.id,
            points=10 + n,
            reason="claim",
            reference_type="claim",
            reference_id=f"c{n}",
            idempotency_key=f"k{n}",
            now=earned,
            expires_in_days=days,
        ).entry
        written.append((entry.id, earned + timedelta(days=days)))
    session.commit()
    _migrate(db, "0001", down=True)
    for entry_id, old_expiry in written:
        session.execute(
            update(PointsLot)
            .where(PointsLot.ledger_entry_id == entry_id)
            .values(expires_at=old_expiry)
        )
    session.commit()

    def expiries() -> list[datetime]:
        session.commit()
        return list(session.scalars(select(PointsLot.expires_at).order_by(PointsLot.id)))

    old = expiries()
    _migrate(db, "head")
    assert expiries() == [
        datetime(2025, 3, 1, 23, 59, 59, 999999, tzinfo=WIB),
        datetime(2024, 3, 31, 23, 59, 59, 999999, tzinfo=WIB),
        datetime(2024, 3, 9, 23, 59, 59, 999999, tzinfo=WIB),
        datetime(2024, 3, 3, 23, 59, 59, 999999, tzinfo=WIB),
    ]
    # Downgrade gives back the earn time of day, to the microsecond.
    _migrate(db, "0001", down=True)
    assert expiries() == old
    _migrate(db, "head")
    assert expiries()[0] == datetime(2025, 3, 1, 23, 59, 59, 999999, tzinfo=WIB)


def _ledger_rows(db: TestDB) -> list[tuple]:
    with db.engine.connect() as conn:
        entries = conn.execute(
            text(
                "SELECT id, partner_id, delta, reason, idempotency_key "
                "FROM ledger_entry ORDER BY id"
            )
        ).all()
        lots = conn.execute(
            text("SELECT id, ledger_entry_id, points_remaining FROM points_lot ORDER BY id")
        ).all()
        taken = conn.execute(
            text("SELECT lot_id, ledger_entry_id, points FROM lot_consumption ORDER BY id")
        ).all()
    return [tuple(r) for r in (*entries, *lots, *taken)]


def _refused(db: TestDB, statement: str) -> bool:
    try:
        with db.engine.begin() as conn:
            conn.execute(text(statement))
    except DBAPIError:
        return True
    return False


def test_0005_keeps_the_ledger_and_its_guards_both_ways(db: TestDB, session: Session) -> None:
    partner = new_partner(session)
    for n, (points, kind) in enumerate([(500, "earn"), (200, "spend"), (50, "spend")]):
        call = ledger.earn if kind == "earn" else ledger.spend
        call(
            session,
            partner_id=partner.id,
            points=points,
            reason="claim" if kind == "earn" else "redemption",
            reference_type="test",
            reference_id=str(n),
            idempotency_key=f"k{n}",
        )
    session.commit()
    before = _ledger_rows(db)

    _migrate(db, "0004", down=True)
    assert _ledger_rows(db) == before
    # The old CHECK is back: no refund; the ledger is still append-only.
    insert_refund = (
        "INSERT INTO ledger_entry (partner_id, delta, reason, reference_type, reference_id, "
        f"description, idempotency_key, balance_after, created_at) VALUES ({partner.id}, 5, "
        "'refund', 'x', 'x', '', 'refund:x', 255, '2026-01-01 00:00:00')"
    )
    assert _refused(db, insert_refund)
    assert _refused(db, "UPDATE ledger_entry SET description = 'changed'")
    assert _refused(db, "DELETE FROM ledger_entry")
    assert "reward" not in inspect(db.engine).get_table_names()

    _migrate(db, "head")
    assert _ledger_rows(db) == before
    assert _refused(db, "UPDATE ledger_entry SET description = 'changed'")
    assert _refused(db, "DELETE FROM lot_consumption")
    # A lot's entry must exist (the foreign keys survived the rebuild on SQLite).
    assert _refused(
        db,
        "INSERT INTO points_lot (ledger_entry_id, partner_id, points_earned, points_remaining, "
        f"earned_at, expires_at) VALUES (999999, {partner.id}, 1, 1, '2026-01-01 00:00:00', "
        "'2027-01-01 00:00:00')",
    )
    assert not _refused(db, insert_refund)
    with pytest.raises(RuntimeError, match="refund"):
        _migrate(db, "0004", down=True)
    assert "reward" in inspect(db.engine).get_table_names()
