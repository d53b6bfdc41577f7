"""``python -m app.commands.console_user``: a console login created or updated from the
command line (production has no demo logins), with the password never an argument."""

import io

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands import console_user
from app.core.db import make_session_factory
from app.models import ConsoleUser
from app.services import console_auth
from tests.conftest import TestDB

PASSWORD = "a-long-enough-password-1"


@pytest.fixture(autouse=True)
def same_database(db: TestDB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.core.db.get_session_factory", lambda: make_session_factory(db.engine))


def run(monkeypatch: pytest.MonkeyPatch, password: str, *args: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return console_user.main(["--password-stdin", *args])


def test_a_login_is_created_then_its_role_changed(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(monkeypatch, PASSWORD, "--email", "Dewi@Brand.co.id", "--name", "Dewi") == 0
    user = session.scalars(select(ConsoleUser).where(ConsoleUser.email == "dewi@brand.co.id")).one()
    assert user.role == "agent"
    assert console_auth.verify_password(user.password_hash, PASSWORD)
    assert run(monkeypatch, PASSWORD, "--email", "dewi@brand.co.id", "--name", "Dewi",
               "--role", "admin") == 0
    session.rollback()  # a fresh snapshot: the command committed in its own session
    assert session.get(ConsoleUser, user.id).role == "admin"


def test_a_short_password_or_a_bad_address_is_refused(
    session: Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, "short", "--email", "x@brand.co.id", "--name", "X") == 2
    assert run(monkeypatch, PASSWORD, "--email", "not-an-address", "--name", "X") == 2
    assert "shorter than" in capsys.readouterr().err
    emails = {u.email for u in session.scalars(select(ConsoleUser))}
    assert "x@brand.co.id" not in emails and "not-an-address" not in emails
