from fastapi import APIRouter

from app.api.deps import PartnerReader, SessionDep, WaIdPath
from app.schemas.tier import TierBrief, TierOut, TierProgressOut
from app.services import partners, tiers

router = APIRouter(tags=["tiers"])


@router.get("/tiers", response_model=list[TierOut])
def list_tiers(session: SessionDep, _caller: PartnerReader) -> list[TierOut]:
    return [TierOut.from_tier(t) for t in tiers.list_tiers(session)]


@router.get(
    "/partners/by-wa/{wa_id}/tier",
    response_model=TierProgressOut,
    responses={403: {"description": "missing scope, or the partner has left"}},
)
def tier_progress(wa_id: WaIdPath, session: SessionDep, _caller: PartnerReader) -> TierProgressOut:
    partner = partners.get_member(session, wa_id)
    progress = tiers.progress(session, partner.id)
    return TierProgressOut(
        current=TierBrief.from_tier(progress.current),
        next=TierBrief.from_tier(progress.next) if progress.next else None,
        points_in_window=progress.points_in_window,
        window_days=progress.window_days,
        points_to_next=progress.points_to_next,
        window_start=progress.window_start,
    )
