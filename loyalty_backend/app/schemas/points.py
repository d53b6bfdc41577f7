from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.models import LedgerEntry
from app.schemas.common import (
    Description,
    IdempotencyKey,
    ReferenceId,
    ReferenceType,
    UTCDatetime,
)

# Per entry; the running totals are 64-bit columns (see app/models/points.py).
MAX_POINTS_PER_ENTRY = 1_000_000

EarnReason = Literal["claim", "quiz", "referral", "adjustment", "welcome_bonus", "campaign_bonus"]
SpendReason = Literal["redemption", "adjustment"]


class LedgerEntryOut(BaseModel):
    id: int
    created_at: UTCDatetime
    delta: int
    reason: str
    reference_type: str
    reference_id: str
    description: str
    balance_after: int

    @classmethod
    def from_entry(cls, entry: LedgerEntry) -> "LedgerEntryOut":
        return cls(
            id=entry.id,
            created_at=entry.created_at,
            delta=entry.delta,
            reason=entry.reason,
            reference_type=entry.reference_type,
            reference_id=entry.reference_id,
            description=entry.description,
            balance_after=entry.balance_after,
        )


class _PointsRequest(BaseModel):
    """An admin adjustment. ``idempotency_key`` may not use a reserved prefix (422)."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(gt=0, le=MAX_POINTS_PER_ENTRY, strict=True)
    reference_type: ReferenceType
    reference_id: ReferenceId
    idempotency_key: IdempotencyKey
    description: Description = ""


class EarnRequest(_PointsRequest):
    reason: EarnReason
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, strict=True)


class SpendRequest(_PointsRequest):
    reason: SpendReason


class BalanceOut(BaseModel):
    wa_id: str
    available_points: int
    lifetime_earned: int
    expiring_soon_points: int = Field(description="Points expiring within 30 days")
    expiring_soon_date: date | None = Field(
        description="WIB date of the soonest expiry among the expiring_soon points (the "
        "last day they can be used)"
    )
    as_of: UTCDatetime


class HistoryOut(BaseModel):
    items: list[LedgerEntryOut]
    total: int
    limit: int
    offset: int


class ExpiringLotOut(BaseModel):
    points: int
    expires_at: UTCDatetime = Field(
        description="Last instant the points can be used: 23:59:59.999999 WIB of expires_on"
    )
    expires_on: date = Field(description="WIB date: the last day the points can be used")
    earned_at: UTCDatetime
    reason: str


class ExpiringOut(BaseModel):
    total_points: int
    within_days: int
    lots: list[ExpiringLotOut]


class AdjustmentIn(BaseModel):
    """An admin correction: positive adds points, negative takes them (409 when the
    balance does not cover it)."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=-MAX_POINTS_PER_ENTRY, le=MAX_POINTS_PER_ENTRY, strict=True)
    note: Annotated[Description, StringConstraints(min_length=1)] = Field(
        description="why (kept as the entry's description and in the audit trail)"
    )
    idempotency_key: IdempotencyKey

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value
