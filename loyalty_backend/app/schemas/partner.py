from pydantic import BaseModel, ConfigDict

from app.models.enums import Language, PartnerRole, PartnerStatus
from app.services.partners import PartnerProfile


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
