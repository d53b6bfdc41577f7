"""Admin (``partner:manage``): the partner list, and a partner's status (suspend,
reinstate, mark as left)."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import PartnerManager, SessionDep, WaIdPath
from app.models.enums import PartnerStatus
from app.schemas.partner import (
    PartnerListItem,
    PartnerListOut,
    PartnerStatusOut,
    StatusUpdate,
)
from app.services import partners

router = APIRouter(prefix="/admin/partners", tags=["admin"])


@router.get("", response_model=PartnerListOut)
def list_partners(
    session: SessionDep,
    _caller: PartnerManager,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PartnerListOut:
    """Every partner, whatever the status, oldest first, with tier and available points."""
    summaries, total = partners.list_partners(session, limit=limit, offset=offset)
    return PartnerListOut(
        items=[PartnerListItem.from_summary(summary) for summary in summaries],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.put("/by-wa/{wa_id}/status", response_model=PartnerStatusOut)
def set_status(
    wa_id: WaIdPath, body: StatusUpdate, session: SessionDep, caller: PartnerManager
) -> PartnerStatusOut:
    partner = partners.set_status(session, wa_id, body.status, actor=caller.name)
    return PartnerStatusOut(wa_id=partner.wa_id, status=PartnerStatus(partner.status))
