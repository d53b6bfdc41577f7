from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.core.migrations import downgrade_base, upgrade_head
from app.models import Base
from tests.conftest import TestDB


def test_migrations_match_the_models(db: TestDB) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_and_upgrade_again(db: TestDB) -> None:
    downgrade_base(db.engine)
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade_head(db.engine)
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())
