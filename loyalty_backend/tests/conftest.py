"""Every test runs twice: on a temporary SQLite file and on PostgreSQL (database ``test``).

Both schemas are built with ``alembic upgrade head``, so the migration is under test too.
PostgreSQL gets a private schema per test session (dropped at the end); tests are
isolated by TRUNCATE there and by a fresh copy of a migrated file on SQLite. If
PostgreSQL is unreachable, the PostgreSQL half errors: it never skips.

The app reads its settings once, when it is imported, so the test process is configured
first, like a deployment: ``APP_ENV=test`` and a fresh random secret for each caller.
"""

import os
import secrets

CREDENTIALS = {
    name: secrets.token_urlsafe(32)
    for name in (
        "SERVICE_TOKEN",
        "ERP_API_KEY",
        "ADMIN_API_KEY",
        "PAYOUT_CALLBACK_TOKEN",
        "WHATSAPP_REPORT_TOKEN",
    )
}
os.environ.update(APP_ENV="test", SEED_DEMO="0", **CREDENTIALS)

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.api.deps import get_db
from app.core.clock import utcnow
from app.core.config import settings
from app.core.db import make_engine, make_session_factory
from app.core.migrations import upgrade_head
from app.initial_data import seed_demo
from app.main import app
from app.models import Base

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


@dataclass
class TestDB:
    """One test's database: how to reach it, and an engine for it."""

    __test__ = False  # not a test class

    kind: str
    url: str
    connect_args: dict[str, Any]
    engine: Engine

    def new_engine(self, **kwargs: Any) -> Engine:
        """Another engine on the same database (e.g. with a bigger pool for threads)."""
        return make_engine(self.url, connect_args=dict(self.connect_args), **kwargs)


def _seed_now() -> datetime:
    return utcnow().replace(microsecond=0)


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A migrated empty database file, and a migrated and seeded one, copied per test."""
    folder = tmp_path_factory.mktemp("sqlite-templates")
    empty, seeded = folder / "empty.db", folder / "seeded.db"
    engine = make_engine(f"sqlite:///{empty}", poolclass=NullPool)
    upgrade_head(engine)
    engine.dispose()
    shutil.copyfile(empty, seeded)
    engine = make_engine(f"sqlite:///{seeded}", poolclass=NullPool)
    now = _seed_now()
    with make_session_factory(engine)() as session:
        seed_demo(session, now)
    engine.dispose()
    return {"empty": empty, "seeded": seeded, "seed_now": now}  # type: ignore[dict-item]


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[dict[str, Any]]:
    """Two private schemas: the test schema, and a seeded one to copy demo data from."""
    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    test_schema, seeded_schema = f"mitra_test_{suffix}", f"mitra_seeded_{suffix}"
    admin = make_engine(PG_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{test_schema}"')
        conn.exec_driver_sql(f'CREATE SCHEMA "{seeded_schema}"')
    engines: list[Engine] = []
    try:
        for schema in (test_schema, seeded_schema):
            engine = make_engine(
                PG_URL, connect_args={"options": f"-csearch_path={schema}"}, poolclass=NullPool
            )
            engines.append(engine)
            upgrade_head(engine)
        now = _seed_now()
        with make_session_factory(engines[1])() as session:
            seed_demo(session, now)
        yield {"test": test_schema, "seeded": seeded_schema, "seed_now": now}
    finally:
        for engine in engines:
            engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{test_schema}" CASCADE')
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{seeded_schema}" CASCADE')
        admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_schemas: dict[str, Any]) -> Iterator[Engine]:
    engine = make_engine(
        PG_URL, connect_args={"options": f"-csearch_path={pg_schemas['test']}"}, pool_size=10
    )
    yield engine
    engine.dispose()


def _pg_truncate(engine: Engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=BACKENDS, autouse=True)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDB]:
    """The parametrised database every test runs against (empty, migrated)."""
    if request.param == "sqlite":
        templates = request.getfixturevalue("sqlite_templates")
        path = tmp_path / "mitra.db"
        shutil.copyfile(templates["empty"], path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        yield TestDB("sqlite", url, {}, engine)
        engine.dispose()
    else:
        schemas = request.getfixturevalue("pg_schemas")
        engine = request.getfixturevalue("pg_engine")
        _pg_truncate(engine)
        yield TestDB("postgresql", PG_URL, {"options": f"-csearch_path={schemas['test']}"}, engine)


@pytest.fixture
def session(db: TestDB) -> Iterator[Session]:
    with make_session_factory(db.engine)() as session:
        yield session


@pytest.fixture
def seeded(request: pytest.FixtureRequest, db: TestDB, tmp_path: Path) -> datetime:
    """Load the demo seed (run once per session per backend) into this test's database.

    Returns the seed's "now".
    """
    if db.kind == "sqlite":
        templates = request.getfixturevalue("sqlite_templates")
        db.engine.dispose()
        shutil.copyfile(templates["seeded"], Path(db.url.removeprefix("sqlite:///")))
        return templates["seed_now"]
    schemas = request.getfixturevalue("pg_schemas")
    source = schemas["seeded"]
    with db.engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            conn.exec_driver_sql(f'INSERT INTO {table.name} SELECT * FROM "{source}".{table.name}')
            if "id" in table.c and table.c.id.type.python_type is int:  # not claim_image
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
                    )
                )
    return schemas["seed_now"]


@pytest.fixture
def client(db: TestDB) -> Iterator[TestClient]:
    factory = make_session_factory(db.engine)

    def _get_db() -> Iterator[Session]:
        with factory() as s:
            yield s

    app.dependency_overrides[get_db] = _get_db
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        app.dependency_overrides.pop(get_db, None)


def bearer(secret_var: str) -> dict[str, str]:
    """The Authorization header of the caller whose secret is ``secret_var``."""
    return {"Authorization": f"Bearer {settings.credential(secret_var)}"}


@pytest.fixture
def auth() -> dict[str, str]:
    """The action server (SERVICE_TOKEN)."""
    return bearer("SERVICE_TOKEN")


@pytest.fixture
def erp_auth() -> dict[str, str]:
    return bearer("ERP_API_KEY")


@pytest.fixture
def admin_auth() -> dict[str, str]:
    return bearer("ADMIN_API_KEY")


@pytest.fixture
def whatsapp_auth() -> dict[str, str]:
    """The WhatsApp connector's notice reports (WHATSAPP_REPORT_TOKEN)."""
    return bearer("WHATSAPP_REPORT_TOKEN")


@pytest.fixture
def payouts_auth() -> dict[str, str]:
    """The payout provider's callbacks (PAYOUT_CALLBACK_TOKEN)."""
    return bearer("PAYOUT_CALLBACK_TOKEN")
