"""Hand-off to a person (issue 20): the partner routes' and the support console's bodies."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models.handoff import HandoffReason
from app.schemas.common import IdempotencyKey, UTCDatetime

Bilingual = dict[Literal["id", "en"], str]


class AvailabilityOut(BaseModel):
    open: bool
    expected_wait_minutes: int
    next_open_at: UTCDatetime | None
    next_open_label: Bilingual | None = Field(
        description='{"id": "Senin, 08.00 WIB", "en": "Monday, 08:00 WIB"} while closed'
    )


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: HandoffReason
    idempotency_key: IdempotencyKey
    last_message: Annotated[str, StringConstraints(max_length=4096)] | None = None


class HandoffOut(BaseModel):
    handoff_id: int
    status: str
    open: bool
    expected_wait_minutes: int
    next_open_label: Bilingual | None


class HandoffCancelledOut(BaseModel):
    handoff_id: int
    status: Literal["cancelled"]


# --- the support console ------------------------------------------------------------------


class LoginIn(BaseModel):
    email: Annotated[str, StringConstraints(max_length=254)]
    password: Annotated[str, StringConstraints(max_length=1024)]


class ConsoleUserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str


class LoginOut(BaseModel):
    user: ConsoleUserOut
    csrf_token: str


class AgentRef(BaseModel):
    id: int
    name: str


class QueueItem(BaseModel):
    id: int
    wa_id: str
    partner_name: str
    shop_name: str | None
    tier: str | None
    language: str
    reason: str
    status: str
    requested_at: UTCDatetime
    last_message: str | None
    claimed_by: AgentRef | None


class QueueOut(BaseModel):
    items: list[QueueItem]


class PartnerSummary(BaseModel):
    name: str
    shop: str | None
    tier: str | None
    language: str
    balance: int
    region: str
    role: str


class HandoffDetailOut(QueueItem):
    partner: PartnerSummary
    recent_claims: list[dict[str, Any]]
    recent_redemptions: list[dict[str, Any]]
    window_open: bool
    last_partner_message_at: UTCDatetime | None


class MessageIn(BaseModel):
    # Checked by the service (blank, too long) so the answer is {"detail": "<reason>"}.
    text: Annotated[str, StringConstraints(max_length=100_000)]


class TranscriptMessage(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: Literal["partner", "bot", "agent", "system"] = Field(alias="from")
    text: str
    buttons: list[str]
    media: dict[str, str] | None
    agent_name: str | None
    timestamp: str | None


class TranscriptOut(BaseModel):
    messages: list[TranscriptMessage]


class MessageOut(BaseModel):
    message: TranscriptMessage


class HandBackOut(BaseModel):
    status: Literal["closed"]


class CannedReplyOut(BaseModel):
    key: str
    title: str
    text: Bilingual


class CannedRepliesOut(BaseModel):
    items: list[CannedReplyOut]
