"""Notices the program sends first (issue 21): the outbox.

One row per notice a partner should get, written by the service whose event it is, in
that event's own transaction (app/services/notifications.py ``enqueue``). ``dedupe_key``
is UNIQUE: the same event never queues twice, also when two transactions race.

Life of a row: ``pending`` -> ``sending`` (leased by a notifier until ``lease_until``; a
notifier that died leaves it to be leased again after that) -> ``handed`` (Rasa accepted
the turn) -> ``sent`` | ``failed``; then ``delivered``, ``read``. ``suppressed``: not
sent because of the partner's choice (opt-out) or status; ``cancelled``: withdrawn.
Rows with the same ``group_key`` for one partner go out as ONE message.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.models.base import Base, UTCDateTime
from app.models.enums import sql_in


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    HANDED = "handed"
    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    READ = "read"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class NotificationCategory(StrEnum):
    SERVICE = "service"  # about the partner's own claims, points, redemptions
    MARKETING = "marketing"  # quizzes, summaries, nudges, vouchers, events


class Delivery(StrEnum):
    SESSION = "session"  # a free-form message inside WhatsApp's 24-hour window
    TEMPLATE = "template"  # an approved template, outside it


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(NotificationStatus)})", name="status"),
        CheckConstraint(f"category IN ({sql_in(NotificationCategory)})", name="category"),
        CheckConstraint(f"delivery IN ({sql_in(Delivery)})", name="delivery"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_notification_status_not_before", "status", "not_before"),
        Index("ix_notification_partner_id_created_at", "partner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    # The conversation in Rasa (sender id), copied so the notifier needs no join.
    wa_id: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    group_key: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING.value)
    delivery: Mapped[str | None] = mapped_column(String(16))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    wamid: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    handed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
