"""Support console sign-in: argon2 passwords, lockout, sessions and CSRF (issue 20).

- Passwords are argon2id hashes (``argon2-cffi``); a hash made with older parameters is
  replaced at the next good sign-in.
- Five wrong passwords in a row lock the account for 15 minutes (``AccountLocked``, API
  423); while locked even the right password is refused. A good sign-in resets the count.
- An unknown or deactivated email is refused exactly like a wrong password (401), after
  verifying a dummy hash, so the answer and its time do not say which emails exist.
- A session is a random cookie token (``secrets.token_urlsafe(32)``) of which only the
  SHA-256 is stored; it lasts 8 hours and ends at logout. Each session has its own CSRF
  token, which state-changing requests send back in ``X-CSRF-Token`` (compared in
  constant time).
- Sign-ins (good and bad), lockouts and logouts go to the audit log.
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import write_transaction
from app.models import ConsoleSession, ConsoleUser
from app.models.console_user import ConsoleRole
from app.services import audit
from app.services.errors import DomainError

log = logging.getLogger("app.console.auth")

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()


class ConsoleAuthError(DomainError):
    status_code = 401


class InvalidLogin(ConsoleAuthError):
    detail = "wrong email or password"
    status_code = 401


class AccountLocked(ConsoleAuthError):
    detail = "too many failed sign-ins: try again in 15 minutes"
    status_code = 423


def actor(user: ConsoleUser | int) -> str:
    """The audit actor of a console user: ``console:<id>``."""
    return f"console:{user if isinstance(user, int) else user.id}"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    user: ConsoleUser
    session: ConsoleSession
    token: str  # the cookie value; only its hash is stored


def login(session: Session, email: str, password: str, *, now: datetime | None = None) -> SignedIn:
    """A new console session; InvalidLogin (401) or AccountLocked (423) otherwise."""
    now = now or utcnow()
    address = normalise_email(email)
    with write_transaction(session):
        user = session.scalars(
            select(ConsoleUser).where(ConsoleUser.email == address).with_for_update()
        ).one_or_none()
        if user is None or not user.active:
            verify_password(_dummy_hash(), password)  # same work as for a real account
            outcome: ConsoleAuthError | SignedIn = InvalidLogin()
        elif user.locked_until is not None and user.locked_until > now:
            verify_password(_dummy_hash(), password)
            outcome = AccountLocked()
        elif not verify_password(user.password_hash, password):
            outcome = _failed(session, user, now)
        else:
            outcome = _signed_in(session, user, password, now)
    if isinstance(outcome, ConsoleAuthError):
        raise outcome
    return outcome


def _failed(session: Session, user: ConsoleUser, now: datetime) -> ConsoleAuthError:
    user.failed_logins += 1
    details: dict[str, object] = {"failed_logins": user.failed_logins}
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.failed_logins = 0
        user.locked_until = now + LOCKOUT
        details["locked_until"] = user.locked_until.isoformat()
        log.warning("console account locked", extra={"console_user": user.id})
    audit.record(
        session,
        actor=actor(user),
        action="console.login_failed",
        entity="console_user",
        entity_id=user.id,
        details=details,
        now=now,
    )
    return InvalidLogin()


def _signed_in(session: Session, user: ConsoleUser, password: str, now: datetime) -> SignedIn:
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=token_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor(user),
        action="console.login",
        entity="console_user",
        entity_id=user.id,
        details={"session_id": row.id},
        now=now,
    )
    return SignedIn(user, row, token)


def session_for_token(
    session: Session, token: str | None, *, now: datetime | None = None
) -> ConsoleSession | None:
    """The live session the cookie ``token`` opens (user active), or None."""
    if not token or len(token) > 256:
        return None
    now = now or utcnow()
    row = session.scalars(
        select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if not row.user.active:
        return None
    return row


def logout(
    session: Session, console_session: ConsoleSession, *, now: datetime | None = None
) -> None:
    now = now or utcnow()
    with write_transaction(session):
        row = session.get(ConsoleSession, console_session.id, with_for_update=True)
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = now
        audit.record(
            session,
            actor=actor(row.user_id),
            action="console.logout",
            entity="console_user",
            entity_id=row.user_id,
            details={"session_id": row.id},
            now=now,
        )


def csrf_ok(console_session: ConsoleSession, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(
        console_session.csrf_token.encode("utf-8"), presented.encode("utf-8")
    )


def ensure_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: ConsoleRole,
    password: str,
    actor_name: str = "seed",
) -> tuple[ConsoleUser, bool]:
    """Create the console user, or update its name, role and (only when it changed) its
    password; returns the user and whether anything changed. Runs in the caller's
    transaction if there is one."""
    address = normalise_email(email)
    if "@" not in address:
        raise ValueError(f"{email!r} is not an email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password for {address} is shorter than {MIN_PASSWORD_LENGTH}")
    with write_transaction(session):
        user = session.scalars(
            select(ConsoleUser).where(ConsoleUser.email == address)
        ).one_or_none()
        if user is None:
            user = ConsoleUser(
                email=address,
                name=name,
                role=role.value,
                password_hash=hash_password(password),
                active=True,
                failed_logins=0,
                created_at=utcnow(),
            )
            session.add(user)
            session.flush()
            changed = ["created"]
        else:
            changed = []
            if user.name != name:
                user.name, changed = name, [*changed, "name"]
            if user.role != role.value:
                user.role, changed = role.value, [*changed, "role"]
            if not user.active:
                user.active, changed = True, [*changed, "active"]
            if not verify_password(user.password_hash, password):
                user.password_hash = hash_password(password)
                user.failed_logins, user.locked_until = 0, None
                changed = [*changed, "password"]
        if changed:
            audit.record(
                session,
                actor=actor_name,
                action="console.user_saved",
                entity="console_user",
                entity_id=user.id,
                details={"changed": changed, "role": user.role},
            )
    return user, bool(changed)
