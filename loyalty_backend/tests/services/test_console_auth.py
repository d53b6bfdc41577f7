"""Console sign-in: argon2 hashes, lockout, sessions, CSRF and the demo logins."""

from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.config import Settings
from app.initial_data import seed_console_users
from app.models import ConsoleSession, ConsoleUser
from app.models.console_user import ConsoleRole
from app.services import console_auth
from app.services.console_auth import AccountLocked, InvalidLogin
from tests.handoff_utils import PASSWORD, console_user


def test_passwords_are_argon2_hashes(session: Session) -> None:
    user = console_user(session)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert console_auth.verify_password(user.password_hash, PASSWORD)
    assert not console_auth.verify_password(user.password_hash, PASSWORD + "!")
    assert not console_auth.verify_password("not a hash", PASSWORD)


def test_login_creates_a_hashed_session(session: Session) -> None:
    user = console_user(session, "Mixed@Example.com")
    assert user.email == "mixed@example.com"
    now = utcnow()
    signed = console_auth.login(session, "  MIXED@example.COM", PASSWORD, now=now)
    assert signed.user.id == user.id
    assert signed.session.token_hash == console_auth.token_hash(signed.token)
    assert signed.session.expires_at == now + timedelta(hours=8)
    assert console_auth.session_for_token(session, signed.token, now=now) is not None
    assert console_auth.session_for_token(session, signed.token + "x", now=now) is None
    later = now + timedelta(hours=8)
    assert console_auth.session_for_token(session, signed.token, now=later) is None
    console_auth.logout(session, signed.session, now=now)
    assert console_auth.session_for_token(session, signed.token, now=now) is None


def test_csrf_check() -> None:
    row = ConsoleSession(csrf_token="abc")
    assert console_auth.csrf_ok(row, "abc")
    assert not console_auth.csrf_ok(row, "abd")
    assert not console_auth.csrf_ok(row, None)
    assert not console_auth.csrf_ok(row, "")


def test_lockout_after_five_failures(session: Session) -> None:
    user = console_user(session)
    now = utcnow()
    for n in range(4):
        with pytest.raises(InvalidLogin):
            console_auth.login(session, user.email, "wrong", now=now)
        session.refresh(user)
        assert user.failed_logins == n + 1
    with pytest.raises(InvalidLogin):  # the fifth locks
        console_auth.login(session, user.email, "wrong", now=now)
    with pytest.raises(AccountLocked):
        console_auth.login(session, user.email, PASSWORD, now=now + timedelta(minutes=14))
    signed = console_auth.login(session, user.email, PASSWORD, now=now + timedelta(minutes=15))
    assert signed.user.failed_logins == 0 and signed.user.locked_until is None


def test_a_good_login_resets_the_count(session: Session) -> None:
    user = console_user(session)
    for _ in range(4):
        with pytest.raises(InvalidLogin):
            console_auth.login(session, user.email, "wrong")
    console_auth.login(session, user.email, PASSWORD)
    for _ in range(4):
        with pytest.raises(InvalidLogin):
            console_auth.login(session, user.email, "wrong")
    assert console_auth.login(session, user.email, PASSWORD)


def test_unknown_and_inactive_users_are_wrong_logins(session: Session) -> None:
    user = console_user(session)
    user.active = False
    session.commit()
    for email in ("nobody@example.com", user.email):
        for _ in range(6):  # and never locked: nothing to lock
            with pytest.raises(InvalidLogin):
                console_auth.login(session, email, PASSWORD)


def test_ensure_user_rehashes_only_a_changed_password(session: Session) -> None:
    user, created = console_auth.ensure_user(
        session, email="a@example.com", name="A", role=ConsoleRole.AGENT, password=PASSWORD
    )
    first_hash = user.password_hash
    _, changed = console_auth.ensure_user(
        session, email="A@example.com", name="A", role=ConsoleRole.AGENT, password=PASSWORD
    )
    assert created and not changed and user.password_hash == first_hash
    user, changed = console_auth.ensure_user(
        session,
        email="a@example.com",
        name="A",
        role=ConsoleRole.ADMIN,
        password="another long one",
    )
    assert changed and user.role == "admin" and user.password_hash != first_hash
    with pytest.raises(ValueError, match="shorter"):
        console_auth.ensure_user(
            session, email="b@example.com", name="B", role=ConsoleRole.AGENT, password="short"
        )


def _demo_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "APP_ENV": "development",
        "DEMO_AGENT_EMAIL": "agent@demo.example",
        "DEMO_AGENT_PASSWORD": SecretStr("agent password 123"),
        "DEMO_ADMIN_EMAIL": "admin@demo.example",
        "DEMO_ADMIN_PASSWORD": SecretStr("admin password 123"),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_demo_console_users(session: Session) -> None:
    assert seed_console_users(session, _demo_settings()) == 2
    assert seed_console_users(session, _demo_settings()) == 0  # idempotent
    users = {u.email: u for u in session.scalars(select(ConsoleUser))}
    assert {e: u.role for e, u in users.items()} == {
        "agent@demo.example": "agent",
        "admin@demo.example": "admin",
    }
    changed = _demo_settings(DEMO_AGENT_PASSWORD=SecretStr("a new agent password"))
    assert seed_console_users(session, changed) == 1
    assert console_auth.login(session, "agent@demo.example", "a new agent password")


def test_no_demo_console_users_in_production_or_unset(session: Session) -> None:
    import secrets

    keys = {
        name: secrets.token_urlsafe(32)
        for name in ("SERVICE_TOKEN", "ERP_API_KEY", "ADMIN_API_KEY", "PAYOUT_CALLBACK_TOKEN")
    }
    assert seed_console_users(session, _demo_settings(APP_ENV="production", **keys)) == 0
    unset = _demo_settings(DEMO_AGENT_PASSWORD=None, DEMO_ADMIN_EMAIL="  ")
    assert seed_console_users(session, unset) == 0
    assert session.scalars(select(ConsoleUser)).all() == []


def test_the_rasa_token_is_a_secret_like_the_others() -> None:
    import secrets

    from pydantic import ValidationError

    keys = {
        name: secrets.token_urlsafe(32)
        for name in ("SERVICE_TOKEN", "ERP_API_KEY", "ADMIN_API_KEY", "PAYOUT_CALLBACK_TOKEN")
    }
    assert Settings(APP_ENV="test", RASA_AUTH_TOKEN="  ", **keys).rasa_token is None
    with pytest.raises(ValidationError, match="RASA_AUTH_TOKEN and SERVICE_TOKEN"):
        Settings(APP_ENV="test", RASA_AUTH_TOKEN=keys["SERVICE_TOKEN"], **keys)
    with pytest.raises(ValidationError, match="RASA_AUTH_TOKEN holds a demo value") as error:
        Settings(APP_ENV="production", RASA_AUTH_TOKEN="demo-rasa-token", **keys)
    assert "demo-rasa-token" not in str(error.value)
    strong = Settings(APP_ENV="production", RASA_AUTH_TOKEN=secrets.token_urlsafe(32), **keys)
    assert strong.console_cookie_secure is True
    assert Settings(APP_ENV="development", **keys).console_cookie_secure is False
