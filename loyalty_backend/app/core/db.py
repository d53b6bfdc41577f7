"""Engine, sessions and the writer-transaction helper shared by every service."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import settings

_WRITER_FLAG = "mitra_writer"
# Execution option read by the SQLite "begin" hook below.
_SQLITE_IMMEDIATE = "mitra_sqlite_immediate"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) emit BEGIN, so writers can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: a deferred transaction that reads and
        # then writes can fail with SQLITE_BUSY_SNAPSHOT under WAL when another writer
        # committed in between, and busy_timeout does not help there.
        if conn.get_execution_options().get(_SQLITE_IMMEDIATE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with Mitra's settings for SQLite or PostgreSQL."""
    if url.startswith("sqlite"):
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", 30)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


@lru_cache
def get_engine() -> Engine:
    return make_engine(settings.DATABASE_URL)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after the service commits, so routers can serialise them.
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@lru_cache
def get_session_factory() -> sessionmaker[Session]:
    return make_session_factory(get_engine())


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """Run the block as one writer transaction: commit on success, roll back on error.

    Nested use joins the outer transaction (the seed runs many service calls as one).
    On SQLite the transaction starts with BEGIN IMMEDIATE, which serialises writers.
    """
    if session.info.get(_WRITER_FLAG):
        yield session
        return
    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        # End the read-only transaction so the writer's starts with BEGIN IMMEDIATE (and a
        # fresh snapshot). On PostgreSQL (READ COMMITTED) every statement already reads a
        # fresh snapshot: the reads before simply join the writer's transaction, which
        # saves a COMMIT, a pool check-in and a pre-ping per write (issue 18's bench).
        session.commit()
    if not session.in_transaction():
        session.connection(execution_options={_SQLITE_IMMEDIATE: True})
    session.info[_WRITER_FLAG] = True
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info[_WRITER_FLAG] = False


def in_write_transaction(session: Session) -> bool:
    """True inside write_transaction (services use it to decide who may roll back)."""
    return bool(session.info.get(_WRITER_FLAG))
