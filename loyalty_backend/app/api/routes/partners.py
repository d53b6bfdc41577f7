from fastapi import APIRouter

from app.api.deps import PartnerActor, PartnerReader, SessionDep, WaIdPath
from app.schemas.partner import LanguageUpdate, PartnerOut
from app.services import partners

router = APIRouter(prefix="/partners", tags=["partners"])

_REFUSED = {403: {"description": "missing scope, or the partner has left / is suspended"}}


@router.get("/by-wa/{wa_id}", response_model=PartnerOut, responses=_REFUSED)
def get_partner(wa_id: WaIdPath, session: SessionDep, _caller: PartnerReader) -> PartnerOut:
    return PartnerOut.from_profile(partners.profile(session, wa_id))


@router.put("/by-wa/{wa_id}/language", response_model=PartnerOut, responses=_REFUSED)
def set_language(
    wa_id: WaIdPath, body: LanguageUpdate, session: SessionDep, caller: PartnerActor
) -> PartnerOut:
    partners.set_language(session, wa_id, body.language, actor=caller.name)
    return PartnerOut.from_profile(partners.profile(session, wa_id))
