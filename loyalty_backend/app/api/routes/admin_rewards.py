"""Admin (``rewards:manage``): rewards, voucher pools, and the fulfilment of redemptions."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.deps import RewardsManager, SessionDep
from app.models import Partner, Redemption
from app.models.reward import RedemptionStatus
from app.schemas.reward import (
    AdminRedemptionListOut,
    AdminRedemptionOut,
    PartnerRef,
    RedemptionUpdateIn,
    RejectedOut,
    RewardAdminListOut,
    RewardAdminOut,
    RewardDefinition,
    VoucherImportIn,
    VoucherImportOut,
)
from app.services import redemptions, rewards, vouchers

router = APIRouter(prefix="/admin", tags=["admin-rewards"])

RewardCodePath = Annotated[str, Path(min_length=1, max_length=32, examples=["VCR-50K"])]
RedemptionNoPath = Annotated[str, Path(min_length=1, max_length=16, examples=["RDM-000001"])]


@router.get("/rewards", response_model=RewardAdminListOut)
def list_rewards(session: SessionDep, _caller: RewardsManager) -> RewardAdminListOut:
    """Every reward (inactive ones too), with what is left of its stock or code pool."""
    items = rewards.list_rewards(session)
    left = redemptions.stock_left(session, items)
    return RewardAdminListOut(
        items=[RewardAdminOut.from_reward(reward, left.get(reward.id)) for reward in items]
    )


@router.post(
    "/rewards",
    response_model=RewardAdminOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": RewardAdminOut, "description": "an existing reward, updated"}},
)
def upsert_reward(
    body: RewardDefinition, response: Response, session: SessionDep, caller: RewardsManager
) -> RewardAdminOut:
    """Create (201) or update (200) a reward by code. ``stock`` is set as given (null:
    unlimited); a voucher's stock is its code pool. Audited."""
    reward, created = rewards.upsert_reward(session, body, actor=caller.name)
    if not created:
        response.status_code = status.HTTP_200_OK
    left = redemptions.stock_left(session, [reward])
    return RewardAdminOut.from_reward(reward, left.get(reward.id))


@router.post(
    "/rewards/{code}/vouchers",
    response_model=VoucherImportOut,
    responses={
        404: {"description": "unknown reward"},
        422: {"description": "not a voucher reward, expires_at not in the future, bad body"},
    },
)
def import_vouchers(
    code: RewardCodePath, body: VoucherImportIn, session: SessionDep, caller: RewardsManager
) -> VoucherImportOut:
    """Add codes to a voucher reward's pool. Each code is checked on its own: bad ones
    come back in ``rejected`` (index from 0, reason); codes already in the pool count as
    ``duplicates``, so sending a batch again is harmless."""
    result = vouchers.import_codes(
        session, code, body.codes, expires_at=body.expires_at, actor=caller.name
    )
    return VoucherImportOut(
        added=result.added,
        duplicates=result.duplicates,
        rejected=[RejectedOut(index=r.index, reason=r.reason) for r in result.rejected],
    )


@router.get("/redemptions", response_model=AdminRedemptionListOut)
def list_redemptions(
    session: SessionDep,
    _caller: RewardsManager,
    status: RedemptionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AdminRedemptionListOut:
    """Redemptions newest first (``?status=requested`` is the fulfilment queue)."""
    rows, total = redemptions.list_for_admin(
        session, status=status.value if status else None, limit=limit, offset=offset
    )
    return AdminRedemptionListOut(
        items=[_admin_out(redemption, partner) for redemption, partner in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/redemptions/{redemption_no}", response_model=AdminRedemptionOut)
def get_redemption(
    redemption_no: RedemptionNoPath, session: SessionDep, _caller: RewardsManager
) -> AdminRedemptionOut:
    redemption = redemptions.get_redemption(session, redemption_no)
    return _admin_out(redemption, _partner(session, redemption))


@router.patch(
    "/redemptions/{redemption_no}",
    response_model=AdminRedemptionOut,
    responses={
        404: {"description": "unknown redemption"},
        409: {
            "description": 'a status change the kind does not allow: {"code": "invalid_transition"}'
        },
        422: {"description": "courier/tracking for a non-shipped reward; shipping without them"},
    },
)
def update_redemption(
    redemption_no: RedemptionNoPath,
    body: RedemptionUpdateIn,
    session: SessionDep,
    caller: RewardsManager,
) -> AdminRedemptionOut:
    """Record fulfilment: ``shipped`` (with courier and tracking_no), ``delivered``,
    ``fulfilled``, or ``cancelled`` (the points are refunded). Audited."""
    redemption = redemptions.update_redemption(
        session,
        redemption_no,
        actor=caller.name,
        status=body.status.value if body.status else None,
        courier=body.courier,
        tracking_no=body.tracking_no,
        note=body.note,
    )
    return _admin_out(redemption, _partner(session, redemption))


def _partner(session: SessionDep, redemption: Redemption) -> Partner:
    partner = session.get(Partner, redemption.partner_id)
    assert partner is not None
    return partner


def _admin_out(redemption: Redemption, partner: Partner) -> AdminRedemptionOut:
    return AdminRedemptionOut.build(
        redemption,
        PartnerRef(wa_id=partner.wa_id, name=partner.name, shop_name=partner.shop_name),
    )
