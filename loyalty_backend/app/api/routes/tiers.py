from fastapi import APIRouter

from app.api.deps import ServiceAuthDep, SessionDep, WaIdPath
from app.schemas.tier import TierBrief, TierOut, TierProgressOut
from app.services import partners, tiers

router = APIRouter(tags=["tiers"])


@router.get("/tiers", response_model=list[TierOut])
def list_tiers(session: SessionDep, _auth: ServiceAuthDep) -> list[TierOut]:
    return [TierOut.from_tier(t) for t in tiers.list_tiers(session)]


@router.get("/partners/by-wa/{wa_id}/tier", response_model=TierProgressOut)
def tier_progress(wa_id: WaIdPath, session: SessionDep, _auth: ServiceAuthDep) -> TierProgressOut:
    partner = partners.get_by_wa_id(session, wa_id)
    progress = tiers.progress(session, partner.id)
    return TierProgressOut(
        current=TierBrief.from_tier(progress.current),
        next=TierBrief.from_tier(progress.next) if progress.next else None,
        points_in_window=progress.points_in_window,
        window_days=progress.window_days,
        points_to_next=progress.points_to_next,
        window_start=progress.window_start,
    )
