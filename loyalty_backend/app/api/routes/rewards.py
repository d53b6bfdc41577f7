"""A partner's rewards and redemptions (service token): the catalogue, redeeming, status."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.deps import PartnerActor, PartnerReader, SessionDep, WaIdPath
from app.models.reward import RewardKind
from app.schemas.reward import (
    RedemptionIn,
    RedemptionListOut,
    RedemptionOut,
    RewardListOut,
    RewardViewOut,
)
from app.services import partners, redemptions

router = APIRouter(
    prefix="/partners/by-wa/{wa_id}",
    tags=["rewards"],
    responses={403: {"description": "missing scope, or the partner has left"}},
)

RewardCodePath = Annotated[str, Path(min_length=1, max_length=32, examples=["VCR-50K"])]
RedemptionNoPath = Annotated[str, Path(min_length=1, max_length=16, examples=["RDM-000001"])]

_REDEEM_RESPONSES = {
    200: {"model": RedemptionOut, "description": "Replayed idempotency key: the first redemption"},
    403: {"description": "missing scope, or the partner is suspended / has left"},
    404: {"description": "unknown partner or reward"},
    409: {
        "description": 'Refused: {"detail", "code": "insufficient_points" | "out_of_stock" | '
        '"not_eligible" | "limit_reached" | "address_required" | "idempotency_conflict", '
        '"points_short"? (insufficient_points), "description"?: {"id", "en"} (why, for the '
        "partner)}"
    },
}


@router.get("/rewards", response_model=RewardListOut)
def list_rewards(
    wa_id: WaIdPath,
    session: SessionDep,
    _caller: PartnerReader,
    kind: RewardKind | None = None,
    q: Annotated[
        str | None, Query(max_length=100, description="the partner's words: 'voucher 50rb'")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 9,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> RewardListOut:
    """The rewards this partner may redeem, by kind then cost (``q``: best match first)."""
    partner = partners.get_member(session, wa_id)
    catalogue = redemptions.rewards_for_partner(
        session, partner, kind=kind.value if kind else None, q=q, limit=limit, offset=offset
    )
    return RewardListOut(
        balance=catalogue.balance,
        expiring_soon_points=catalogue.expiring_soon_points,
        expiring_soon_date=catalogue.expiring_soon_date,
        total=catalogue.total,
        limit=catalogue.limit,
        offset=catalogue.offset,
        items=[RewardViewOut.from_view(view) for view in catalogue.items],
    )


@router.get(
    "/rewards/{code}",
    response_model=RewardViewOut,
    responses={404: {"description": "unknown partner or reward"}},
)
def get_reward(
    wa_id: WaIdPath, code: RewardCodePath, session: SessionDep, _caller: PartnerReader
) -> RewardViewOut:
    """One reward as this partner sees it; ``unavailable`` says why it cannot be redeemed."""
    partner = partners.get_member(session, wa_id)
    return RewardViewOut.from_view(redemptions.reward_for_partner(session, partner, code))


@router.post(
    "/redemptions",
    response_model=RedemptionOut,
    status_code=status.HTTP_201_CREATED,
    responses=_REDEEM_RESPONSES,
)
def redeem(
    wa_id: WaIdPath,
    body: RedemptionIn,
    response: Response,
    session: SessionDep,
    caller: PartnerActor,
) -> RedemptionOut:
    """Redeem a reward: points spent once per ``idempotency_key``."""
    result = redemptions.redeem(
        session,
        wa_id,
        reward_code=body.reward_code,
        idempotency_key=body.idempotency_key,
        delivery_address=body.delivery_address,
        actor=caller.name,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return RedemptionOut.from_receipt(result.receipt)


@router.get("/redemptions", response_model=RedemptionListOut)
def list_redemptions(
    wa_id: WaIdPath,
    session: SessionDep,
    _caller: PartnerReader,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> RedemptionListOut:
    """The partner's own redemptions, newest first."""
    partner = partners.get_member(session, wa_id)
    items = redemptions.list_for_partner(session, partner.id, limit=limit)
    return RedemptionListOut(items=[RedemptionOut.from_redemption(r) for r in items])


@router.get(
    "/redemptions/{redemption_no}",
    response_model=RedemptionOut,
    responses={404: {"description": "unknown partner, or not this partner's redemption"}},
)
def get_redemption(
    wa_id: WaIdPath, redemption_no: RedemptionNoPath, session: SessionDep, _caller: PartnerReader
) -> RedemptionOut:
    partner = partners.get_member(session, wa_id)
    redemption = redemptions.get_for_partner(session, partner.id, redemption_no)
    return RedemptionOut.from_redemption(redemption)
