"""A partner's request to talk to a person (issue 20), from waiting to closed.

``waiting`` (no agent yet) -> ``active`` (claimed by one agent) -> ``closed`` (handed back
to the bot); ``waiting`` -> ``cancelled`` (the partner went back to the bot). A partner has
at most one open (waiting or active) hand-off: a PARTIAL unique index, which both
PostgreSQL and SQLite enforce, so two racing requests open one. The rules live in
app/services/handoffs.py.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import sql_in


class HandoffStatus(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class HandoffReason(StrEnum):
    REQUESTED = "requested"  # the partner asked for a person
    MISUNDERSTOOD = "misunderstood"  # the bot failed to understand, repeatedly
    AFTER_HOURS = "after_hours"  # the partner left a message outside support hours


OPEN_STATUSES = frozenset({HandoffStatus.WAITING, HandoffStatus.ACTIVE})
OPEN_HANDOFF_WHERE = f"status IN ({sql_in(OPEN_STATUSES)})"


class Handoff(Base):
    __tablename__ = "handoff"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(HandoffStatus)})", name="status"),
        CheckConstraint(f"reason IN ({sql_in(HandoffReason)})", name="reason"),
        Index(
            "uq_handoff_open_per_partner",
            "partner_id",
            unique=True,
            sqlite_where=text(OPEN_HANDOFF_WHERE),
            postgresql_where=text(OPEN_HANDOFF_WHERE),
        ),
        Index("ix_handoff_status_requested_at", "status", "requested_at"),
        Index("ix_handoff_partner_id_requested_at", "partner_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    # The conversation in Rasa (sender id); kept here so the console needs no join to call it.
    wa_id: Mapped[str] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(16), default=HandoffStatus.WAITING.value)
    reason: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    # What the partner wrote last before asking (shown in the queue), if anything.
    last_message: Mapped[str | None] = mapped_column(String(4096))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Start of the current waiting period: the request, or the partner's "keep waiting".
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the no-agent notice for the current waiting period went to Rasa.
    timeout_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("console_user.id"), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Audit actor who ended it: ``console:<user id>`` (hand-back) or ``partner`` (cancel).
    closed_by: Mapped[str | None] = mapped_column(String(64))
