from pydantic import BaseModel, ConfigDict

from app.models.enums import Language, PartnerRole, PartnerStatus
from app.services.partners import PartnerProfile, PartnerSummary


class TierRef(BaseModel):
    code: str
    name: str


class PartnerOut(BaseModel):
    wa_id: str
    name: str
    shop_name: str | None
    role: PartnerRole
    region: str
    language: Language
    status: PartnerStatus
    tier: TierRef
    opted_out: bool
    parent_wa_id: str | None
    address: str | None  # delivery address on file (rewards that are goods)

    @classmethod
    def from_profile(cls, profile: PartnerProfile) -> "PartnerOut":
        p = profile.partner
        return cls(
            wa_id=p.wa_id,
            name=p.name,
            shop_name=p.shop_name,
            role=PartnerRole(p.role),
            region=p.region,
            language=Language(p.language),
            status=PartnerStatus(p.status),
            tier=TierRef(code=profile.tier.code, name=profile.tier.name),
            opted_out=p.opted_out,
            parent_wa_id=profile.parent_wa_id,
            address=p.address,
        )


class LanguageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PartnerStatus


class PartnerStatusOut(BaseModel):
    wa_id: str
    status: PartnerStatus


class PartnerListItem(BaseModel):
    wa_id: str
    name: str
    shop_name: str | None
    role: PartnerRole
    region: str
    tier: str | None  # tier code; null when no tiers are configured
    status: PartnerStatus
    balance: int
    erp_customer_code: str | None

    @classmethod
    def from_summary(cls, summary: PartnerSummary) -> "PartnerListItem":
        p = summary.partner
        return cls(
            wa_id=p.wa_id,
            name=p.name,
            shop_name=p.shop_name,
            role=PartnerRole(p.role),
            region=p.region,
            tier=summary.tier.code if summary.tier else None,
            status=PartnerStatus(p.status),
            balance=summary.balance,
            erp_customer_code=p.erp_customer_code,
        )


class PartnerListOut(BaseModel):
    items: list[PartnerListItem]
    total: int
    limit: int
    offset: int
