from fastapi import APIRouter

from app.api.deps import ServiceAuthDep, SessionDep, WaIdPath
from app.schemas.partner import LanguageUpdate, PartnerOut
from app.services import partners

router = APIRouter(prefix="/partners", tags=["partners"])


@router.get("/by-wa/{wa_id}", response_model=PartnerOut)
def get_partner(wa_id: WaIdPath, session: SessionDep, _auth: ServiceAuthDep) -> PartnerOut:
    return PartnerOut.from_profile(partners.profile(session, wa_id))


@router.put("/by-wa/{wa_id}/language", response_model=PartnerOut)
def set_language(
    wa_id: WaIdPath, body: LanguageUpdate, session: SessionDep, actor: ServiceAuthDep
) -> PartnerOut:
    partners.set_language(session, wa_id, body.language, actor=actor)
    return PartnerOut.from_profile(partners.profile(session, wa_id))
