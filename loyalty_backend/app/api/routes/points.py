from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import LedgerReader, SessionDep, WaIdPath
from app.core.clock import wib_date
from app.schemas.points import (
    BalanceOut,
    ExpiringLotOut,
    ExpiringOut,
    HistoryOut,
    LedgerEntryOut,
)
from app.services import ledger, partners

# Reads of a partner's points. Writes are elsewhere: adjustments in admin_points.py, and
# partner-initiated operations (redeem, ...) in their own modules.
router = APIRouter(
    prefix="/partners/by-wa/{wa_id}",
    tags=["points"],
    responses={403: {"description": "missing scope, or the partner has left"}},
)


@router.get("/balance", response_model=BalanceOut)
def get_balance(wa_id: WaIdPath, session: SessionDep, _caller: LedgerReader) -> BalanceOut:
    partner = partners.get_member(session, wa_id)
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
    _caller: LedgerReader,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    since: Annotated[
        date | None,
        Query(ge=date(2000, 1, 1), le=date(2100, 12, 31), description="WIB date, inclusive"),
    ] = None,
) -> HistoryOut:
    partner = partners.get_member(session, wa_id)
    items, total = ledger.history(session, partner.id, limit=limit, offset=offset, since=since)
    return HistoryOut(
        items=[LedgerEntryOut.from_entry(e) for e in items], total=total, limit=limit, offset=offset
    )


@router.get("/expiring", response_model=ExpiringOut)
def get_expiring(
    wa_id: WaIdPath,
    session: SessionDep,
    _caller: LedgerReader,
    within_days: Annotated[int, Query(ge=1, le=3650)] = 90,
) -> ExpiringOut:
    partner = partners.get_member(session, wa_id)
    lots = ledger.expiring_lots(session, partner.id, within_days)
    return ExpiringOut(
        total_points=sum(lot.points for lot in lots),
        within_days=within_days,
        lots=[
            ExpiringLotOut(
                points=lot.points,
                expires_at=lot.expires_at,
                expires_on=lot.expires_on,
                earned_at=lot.earned_at,
                reason=lot.reason,
            )
            for lot in lots
        ],
    )
