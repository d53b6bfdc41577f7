from datetime import date

from pydantic import BaseModel, Field

from app.models import Tier


class TierOut(BaseModel):
    code: str
    name: str
    min_points: int
    multiplier: float = Field(description="Earn multiplier, e.g. 1.25")
    multiplier_percent: int = Field(description="The same multiplier as an integer percent")
    rank: int
    window_days: int

    @classmethod
    def from_tier(cls, tier: Tier) -> "TierOut":
        return cls(
            code=tier.code,
            name=tier.name,
            min_points=tier.min_points,
            multiplier=tier.multiplier_percent / 100,
            multiplier_percent=tier.multiplier_percent,
            rank=tier.rank,
            window_days=tier.window_days,
        )


class TierBrief(BaseModel):
    code: str
    name: str
    min_points: int

    @classmethod
    def from_tier(cls, tier: Tier) -> "TierBrief":
        return cls(code=tier.code, name=tier.name, min_points=tier.min_points)


class TierProgressOut(BaseModel):
    current: TierBrief
    next: TierBrief | None
    points_in_window: int
    window_days: int
    points_to_next: int
    window_start: date = Field(description="WIB date the rolling window starts")
