"""Support console users (agents, admins) and their browser sessions (issue 20).

Passwords are argon2 hashes; a session cookie holds a random token of which only the
SHA-256 is stored, so a copy of the database opens no session. The rules (lockout,
expiry, CSRF) live in app/services/console_auth.py.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import sql_in


class ConsoleRole(StrEnum):
    AGENT = "agent"  # takes chats from the queue, answers, hands back
    ADMIN = "admin"  # an agent who may also answer or hand back another agent's chat


class ConsoleUser(Base):
    __tablename__ = "console_user"
    __table_args__ = (
        CheckConstraint(f"role IN ({sql_in(ConsoleRole)})", name="role"),
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Wrong passwords in a row; the fifth locks the account until locked_until.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsoleSession(Base):
    __tablename__ = "console_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 (hex) of the cookie's random token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Sent back in X-CSRF-Token on every state-changing request of this session.
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("console_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[ConsoleUser] = relationship(lazy="joined", innerjoin=True)
