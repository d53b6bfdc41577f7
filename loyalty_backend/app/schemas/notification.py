"""Notices the program sends first (issue 21): the connector's reports and the admin view."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.notification import Notification
from app.schemas.common import UTCDatetime

Wamid = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class SendReportIn(BaseModel):
    """What WhatsApp answered when the connector sent one notice message."""

    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=100)
    ok: bool
    wamid: Wamid | None = None
    error_code: int | None = None
    error: Annotated[str, StringConstraints(max_length=2000)] | None = None
    delivery: Literal["session", "template"] | None = Field(
        default=None,
        description="how the bot sent it: a free-form message inside WhatsApp's 24-hour "
        "window, or the approved template outside it",
    )
    later: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list,
        max_length=100,
        description="notices of the same group the message did not carry (a template says "
        "one notice): they go again, each as its own template, one per partner slot",
    )


class SendReportOut(BaseModel):
    changed: int = Field(description="notices whose status changed (0: a repeated report)")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wamid: Wamid
    status: Literal["sent", "delivered", "read", "failed"]
    timestamp: Annotated[int, Field(ge=0, le=10**11, description="Unix seconds")]
    error_code: int | None = None


class StatusesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statuses: list[StatusIn] = Field(max_length=1000)


class StatusesOut(BaseModel):
    matched: int = Field(description="statuses whose wamid is a notice's (others are ignored)")


class NotificationOut(BaseModel):
    id: int
    wa_id: str
    kind: str
    category: str
    params: dict[str, Any]
    status: str
    delivery: str | None
    group_key: str | None
    attempts: int
    not_before: UTCDatetime
    last_error_code: int | None
    last_error: str | None
    wamid: str | None
    created_at: UTCDatetime
    handed_at: UTCDatetime | None
    sent_at: UTCDatetime | None
    delivered_at: UTCDatetime | None
    read_at: UTCDatetime | None

    @classmethod
    def of(cls, n: Notification) -> "NotificationOut":
        return cls(
            id=n.id,
            wa_id=n.wa_id,
            kind=n.kind,
            category=n.category,
            params=dict(n.params),
            status=n.status,
            delivery=n.delivery,
            group_key=n.group_key,
            attempts=n.attempts,
            not_before=n.not_before,
            last_error_code=n.last_error_code,
            last_error=n.last_error,
            wamid=n.wamid,
            created_at=n.created_at,
            handed_at=n.handed_at,
            sent_at=n.sent_at,
            delivered_at=n.delivered_at,
            read_at=n.read_at,
        )


class NotificationListOut(BaseModel):
    items: list[NotificationOut]
