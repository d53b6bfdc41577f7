"""Rewards and redemptions over the API, and the reward definition shared with the loader.

``RewardDefinition`` is one reward as an admin writes it, in ``content/rewards.yml``
(app/commands/load_content.py) or in ``POST /admin/rewards``: both are checked by it.
"""

import re
from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.models import Redemption, Reward
from app.models.enums import PartnerRole
from app.models.reward import GOODS_KINDS, LimitPeriod, RedemptionStatus, RewardKind
from app.schemas.common import DateWindow, IdempotencyKey, UTCDatetime, _no_control_chars
from app.schemas.points import MAX_POINTS_PER_ENTRY
from app.services import rewards
from app.services.redemptions import Receipt, RewardView
from app.services.tiers import DEFAULT_TIERS

TIER_CODES = frozenset(code for code, *_ in DEFAULT_TIERS)
MAX_SYNONYMS = 30
MAX_VOUCHER_CODES_PER_CALL = 5000
MAX_ADDRESS_CHARS = 300

_REWARD_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")


def _reward_code(value: str) -> str:
    code = value.strip().upper()
    if not _REWARD_CODE.fullmatch(code):
        raise ValueError("must be 2-32 of A-Z, 0-9 and '-', starting with a letter or digit")
    return code


# Reward codes are upper case ("VCR-50K"); what a caller sends is trimmed and upper-cased.
RewardCode = Annotated[str, AfterValidator(_reward_code)]


def _address(value: str) -> str:
    """One line: whitespace runs (a chat's newlines included) become one space."""
    line = _no_control_chars(" ".join(value.split()))
    if not 1 <= len(line) <= MAX_ADDRESS_CHARS:
        raise ValueError(f"must have 1-{MAX_ADDRESS_CHARS} characters")
    return line


# An address as a partner types it in a chat.
Address = Annotated[str, AfterValidator(_address)]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_no_control_chars),
]
Note = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500),
    AfterValidator(_no_control_chars),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class Text(BaseModel):
    """A text partners read, in both languages."""

    id: str
    en: str


class NameIn(_Strict):
    id: str = Field(min_length=1, max_length=120)
    en: str = Field(min_length=1, max_length=120)


class DescriptionIn(_Strict):
    id: str = Field(min_length=1, max_length=500)
    en: str = Field(min_length=1, max_length=500)


class EligibleIn(_Strict):
    """Who may redeem; an empty (or missing) list means everyone."""

    tiers: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[str]) -> list[str]:
        for tier in value:
            if tier not in TIER_CODES:
                raise ValueError(f"unknown tier {tier!r} (one of {', '.join(sorted(TIER_CODES))})")
        return list(dict.fromkeys(value))

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        known = {role.value for role in PartnerRole}
        for role in value:
            if role not in known:
                raise ValueError(f"unknown role {role!r} (one of {', '.join(sorted(known))})")
        return list(dict.fromkeys(value))

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(region.split()) for region in value]
        if any(not region or len(region) > 64 for region in cleaned):
            raise ValueError("each region must have 1-64 characters")
        return list(dict.fromkeys(cleaned))


class LimitIn(_Strict):
    """At most ``count`` redemptions per partner in each WIB calendar ``period``."""

    count: int = Field(ge=1, le=1000, strict=True)
    period: LimitPeriod


class RewardDefinition(_Strict):
    """One reward, as ``content/rewards.yml`` and ``POST /admin/rewards`` give it."""

    code: RewardCode
    kind: RewardKind
    name: NameIn
    description: DescriptionIn
    cost: int = Field(ge=1, le=MAX_POINTS_PER_ENTRY, strict=True)
    stock: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        strict=True,
        description="null: unlimited. Vouchers leave it out: their stock is their code pool",
    )
    eligible: EligibleIn = Field(default_factory=EligibleIn)
    limit: LimitIn | None = None
    window: DateWindow | None = None
    image_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    synonyms: list[str] = Field(default_factory=list, max_length=MAX_SYNONYMS)
    active: bool = True

    @field_validator("synonyms")
    @classmethod
    def _synonyms(cls, value: list[str]) -> list[str]:
        cleaned = [" ".join(text.split()) for text in value]
        if any(not text or len(text) > 80 for text in cleaned):
            raise ValueError("each synonym must have 1-80 characters")
        return list(dict.fromkeys(cleaned))

    @model_validator(mode="after")
    def _voucher_stock_is_the_pool(self) -> Self:
        if self.kind is RewardKind.VOUCHER and self.stock is not None:
            raise ValueError(
                "a voucher reward's stock is its pool of codes: leave stock out and add "
                "codes (POST /admin/rewards/{code}/vouchers or app.commands.import_vouchers)"
            )
        return self


# --- partner side ------------------------------------------------------------------------


class Unavailable(BaseModel):
    code: Literal[
        "not_eligible", "out_of_stock", "insufficient_points", "limit_reached", "not_active"
    ]
    description: Text


class RewardViewOut(BaseModel):
    code: str
    name: Text
    description: Text
    kind: RewardKind
    kind_label: Text
    cost: int
    affordable: bool
    points_short: int = Field(description="0 when affordable")
    in_stock: bool
    stock_left: int | None = Field(description="null: unlimited")
    needs_address: bool = Field(description="goods that are shipped to the partner")
    image_url: str | None
    unavailable: Unavailable | None

    @classmethod
    def from_view(cls, view: RewardView) -> "RewardViewOut":
        reward = view.reward
        return cls(
            code=reward.code,
            name=Text(id=reward.name_id, en=reward.name_en),
            description=Text(id=reward.description_id, en=reward.description_en),
            kind=RewardKind(reward.kind),
            kind_label=Text(**rewards.kind_label(reward.kind)),
            cost=reward.cost,
            affordable=view.points_short == 0,
            points_short=view.points_short,
            in_stock=view.stock_left is None or view.stock_left > 0,
            stock_left=view.stock_left,
            needs_address=reward.kind in GOODS_KINDS,
            image_url=reward.image_url,
            unavailable=(
                Unavailable(
                    code=view.unavailable.code,  # type: ignore[arg-type]
                    description=Text(**view.unavailable.description),
                )
                if view.unavailable
                else None
            ),
        )


class RewardListOut(BaseModel):
    balance: int
    expiring_soon_points: int = Field(description="Points expiring within 30 days")
    expiring_soon_date: date | None = Field(description="WIB date of the soonest expiry")
    total: int
    limit: int
    offset: int
    items: list[RewardViewOut]


class RedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reward_code: RewardCode
    idempotency_key: IdempotencyKey = Field(
        description="wa:<WhatsApp message id of the message that showed the confirm button>"
    )
    delivery_address: Address | None = Field(
        default=None, description="Where goods are shipped; stored as the partner's address"
    )

    @field_validator("delivery_address", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class RedemptionOut(BaseModel):
    redemption_no: str
    reward_code: str
    reward_name: Text
    kind: RewardKind
    status: RedemptionStatus
    status_label: Text
    points_spent: int
    balance_after: int
    voucher_code: str | None
    voucher_expires_at: UTCDatetime | None
    delivery_address: str | None
    courier: str | None
    tracking_no: str | None
    refunded_points: int | None
    note: str | None
    created_at: UTCDatetime
    updated_at: UTCDatetime

    @classmethod
    def from_redemption(cls, redemption: Redemption) -> "RedemptionOut":
        return cls.from_receipt(Receipt.of(redemption))

    @classmethod
    def from_receipt(cls, receipt: Receipt) -> "RedemptionOut":
        return cls(
            redemption_no=receipt.redemption_no,
            reward_code=receipt.reward_code,
            reward_name=Text(**receipt.reward_name),
            kind=RewardKind(receipt.kind),
            status=RedemptionStatus(receipt.status),
            status_label=Text(**rewards.status_label(receipt.status)),
            points_spent=receipt.points_spent,
            balance_after=receipt.balance_after,
            voucher_code=receipt.voucher_code,
            voucher_expires_at=receipt.voucher_expires_at,
            delivery_address=receipt.delivery_address,
            courier=receipt.courier,
            tracking_no=receipt.tracking_no,
            refunded_points=receipt.refunded_points,
            note=receipt.note,
            created_at=receipt.created_at,
            updated_at=receipt.updated_at,
        )


class RedemptionListOut(BaseModel):
    items: list[RedemptionOut]


# --- admin -------------------------------------------------------------------------------


class WindowOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: date | None = Field(alias="from")
    to: date | None


class LimitOut(BaseModel):
    count: int
    period: LimitPeriod


class EligibleOut(BaseModel):
    tiers: list[str]
    roles: list[str]
    regions: list[str]


class RewardAdminOut(BaseModel):
    code: str
    kind: RewardKind
    name: Text
    description: Text
    cost: int
    stock: int | None = Field(description="goods: units left; null: unlimited or a voucher")
    stock_left: int | None = Field(description="units left, or available codes of a voucher")
    eligible: EligibleOut
    limit: LimitOut | None
    window: WindowOut | None
    image_url: str | None
    synonyms: list[str]
    active: bool
    source: Literal["content", "admin"]
    created_at: UTCDatetime
    updated_at: UTCDatetime

    @classmethod
    def from_reward(cls, reward: Reward, stock_left: int | None) -> "RewardAdminOut":
        window = None
        if reward.starts_on or reward.ends_on:
            window = WindowOut(from_=reward.starts_on, to=reward.ends_on)
        limit = None
        if reward.limit_count and reward.limit_period:
            limit = LimitOut(count=reward.limit_count, period=LimitPeriod(reward.limit_period))
        return cls(
            code=reward.code,
            kind=RewardKind(reward.kind),
            name=Text(id=reward.name_id, en=reward.name_en),
            description=Text(id=reward.description_id, en=reward.description_en),
            cost=reward.cost,
            stock=reward.stock,
            stock_left=stock_left,
            eligible=EligibleOut(
                tiers=list(reward.tiers), roles=list(reward.roles), regions=list(reward.regions)
            ),
            limit=limit,
            window=window,
            image_url=reward.image_url,
            synonyms=list(reward.synonyms),
            active=reward.active,
            source=reward.source,  # type: ignore[arg-type]
            created_at=reward.created_at,
            updated_at=reward.updated_at,
        )


class RewardAdminListOut(BaseModel):
    items: list[RewardAdminOut]


class VoucherImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codes: list[str] = Field(min_length=1, max_length=MAX_VOUCHER_CODES_PER_CALL)
    expires_at: date | datetime = Field(
        description="A WIB date (the codes can be used all that day) or an aware datetime"
    )


class RejectedOut(BaseModel):
    index: int
    reason: str


class VoucherImportOut(BaseModel):
    added: int
    duplicates: int
    rejected: list[RejectedOut]


class PartnerRef(BaseModel):
    wa_id: str
    name: str
    shop_name: str | None


class AdminRedemptionOut(RedemptionOut):
    partner: PartnerRef
    payout_ref: str | None

    @classmethod
    def build(cls, redemption: Redemption, partner: PartnerRef) -> "AdminRedemptionOut":
        return cls(
            **RedemptionOut.from_redemption(redemption).model_dump(),
            partner=partner,
            payout_ref=redemption.payout_ref,
        )


class AdminRedemptionListOut(BaseModel):
    items: list[AdminRedemptionOut]
    total: int
    limit: int
    offset: int


class RedemptionUpdateIn(BaseModel):
    """Fulfilment: the new status, the courier and tracking number of goods, a note."""

    model_config = ConfigDict(extra="forbid")

    status: RedemptionStatus | None = None
    courier: ShortText | None = None
    tracking_no: ShortText | None = None
    note: Note | None = None


class PayoutCallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payout_ref: str = Field(min_length=1, max_length=128)
    status: Literal["succeeded", "failed"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class PayoutCallbackOut(BaseModel):
    redemption_no: str
    status: RedemptionStatus
    changed: bool = Field(description="false: the payout was already settled this way")


class RedemptionFeedItem(BaseModel):
    redemption_no: str
    wa_id: str
    erp_customer_code: str | None
    reward_code: str
    kind: RewardKind
    status: RedemptionStatus
    points_spent: int
    refunded_points: int | None
    courier: str | None
    tracking_no: str | None
    created_at: UTCDatetime
    updated_at: UTCDatetime


class RedemptionFeedOut(BaseModel):
    items: list[RedemptionFeedItem]
    next_since: UTCDatetime | None = Field(
        description="pass as ?since= for the next page (null: nothing new)"
    )
