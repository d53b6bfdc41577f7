from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import ServiceAuthDep, SessionDep, WaIdPath
from app.core.clock import wib_date
from app.schemas.points import (
    BalanceOut,
    EarnRequest,
    ExpiringLotOut,
    ExpiringOut,
    HistoryOut,
    LedgerEntryOut,
    SpendRequest,
)
from app.services import ledger, partners

router = APIRouter(prefix="/partners/by-wa/{wa_id}", tags=["points"])

_REPLAY = {200: {"model": LedgerEntryOut, "description": "Replayed idempotency key"}}
_CONFLICTS = {409: {"description": "insufficient points, or idempotency key reused"}}


@router.get("/balance", response_model=BalanceOut)
def get_balance(wa_id: WaIdPath, session: SessionDep, _auth: ServiceAuthDep) -> BalanceOut:
    partner = partners.get_by_wa_id(session, wa_id)
    view = ledger.balance(session, partner.id)
    return BalanceOut(
        wa_id=partner.wa_id,
        available_points=view.available_points,
        lifetime_earned=view.lifetime_earned,
        expiring_soon_points=view.expiring_soon_points,
        expiring_soon_date=wib_date(view.expiring_soon_at) if view.expiring_soon_at else None,
        as_of=view.as_of,
    )


@router.get("/history", response_model=HistoryOut)
def get_history(
    wa_id: WaIdPath,
    session: SessionDep,
    _auth: ServiceAuthDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    since: Annotated[
        date | None,
        Query(ge=date(2000, 1, 1), le=date(2100, 12, 31), description="WIB date, inclusive"),
    ] = None,
) -> HistoryOut:
    partner = partners.get_by_wa_id(session, wa_id)
    items, total = ledger.history(session, partner.id, limit=limit, offset=offset, since=since)
    return HistoryOut(
        items=[LedgerEntryOut.from_entry(e) for e in items], total=total, limit=limit, offset=offset
    )


@router.get("/expiring", response_model=ExpiringOut)
def get_expiring(
    wa_id: WaIdPath,
    session: SessionDep,
    _auth: ServiceAuthDep,
    within_days: Annotated[int, Query(ge=1, le=3650)] = 90,
) -> ExpiringOut:
    partner = partners.get_by_wa_id(session, wa_id)
    lots = ledger.expiring_lots(session, partner.id, within_days)
    return ExpiringOut(
        total_points=sum(lot.points for lot in lots),
        within_days=within_days,
        lots=[
            ExpiringLotOut(
                points=lot.points,
                expires_at=lot.expires_at,
                earned_at=lot.earned_at,
                reason=lot.reason,
            )
            for lot in lots
        ],
    )


@router.post(
    "/points/earn",
    response_model=LedgerEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses=_REPLAY,
)
def earn_points(
    wa_id: WaIdPath,
    body: EarnRequest,
    response: Response,
    session: SessionDep,
    actor: ServiceAuthDep,
) -> LedgerEntryOut:
    partner = partners.get_by_wa_id(session, wa_id)
    result = ledger.earn(
        session,
        partner_id=partner.id,
        points=body.points,
        reason=body.reason,
        reference_type=body.reference_type,
        reference_id=body.reference_id,
        idempotency_key=body.idempotency_key,
        description=body.description,
        expires_in_days=body.expires_in_days,
        actor=actor,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return LedgerEntryOut.from_entry(result.entry)


@router.post(
    "/points/spend",
    response_model=LedgerEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_REPLAY, **_CONFLICTS},
)
def spend_points(
    wa_id: WaIdPath,
    body: SpendRequest,
    response: Response,
    session: SessionDep,
    actor: ServiceAuthDep,
) -> LedgerEntryOut:
    partner = partners.get_by_wa_id(session, wa_id)
    result = ledger.spend(
        session,
        partner_id=partner.id,
        points=body.points,
        reason=body.reason,
        reference_type=body.reference_type,
        reference_id=body.reference_id,
        idempotency_key=body.idempotency_key,
        description=body.description,
        actor=actor,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return LedgerEntryOut.from_entry(result.entry)
