"""Admin: a partner's status (``partner:manage``): suspend, reinstate, mark as left."""

from fastapi import APIRouter

from app.api.deps import PartnerManager, SessionDep, WaIdPath
from app.models.enums import PartnerStatus
from app.schemas.partner import PartnerStatusOut, StatusUpdate
from app.services import partners

router = APIRouter(prefix="/admin/partners/by-wa/{wa_id}", tags=["admin"])


@router.put("/status", response_model=PartnerStatusOut)
def set_status(
    wa_id: WaIdPath, body: StatusUpdate, session: SessionDep, caller: PartnerManager
) -> PartnerStatusOut:
    partner = partners.set_status(session, wa_id, body.status, actor=caller.name)
    return PartnerStatusOut(wa_id=partner.wa_id, status=PartnerStatus(partner.status))
