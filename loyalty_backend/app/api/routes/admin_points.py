"""Admin adjustments: raw earn and spend (``points:adjust``, the admin's scope only).

The action server never reaches these: it holds no ``points:adjust``. Points that a
partner earns by claims, quizzes or referrals will be written by those rules, not here.
"""

from fastapi import APIRouter, Response, status

from app.api.deps import PointsAdjuster, SessionDep, WaIdPath
from app.schemas.points import AdjustmentIn, EarnRequest, LedgerEntryOut, SpendRequest
from app.services import ledger, partners

router = APIRouter(prefix="/admin/partners/by-wa/{wa_id}", tags=["admin"])

_REPLAY = {200: {"model": LedgerEntryOut, "description": "Replayed idempotency key"}}
_REFUSED = {
    403: {"description": "missing scope, or the partner is suspended / has left"},
    422: {"description": "invalid body, or an idempotency key with a reserved prefix"},
}
_CONFLICTS = {409: {"description": "insufficient points, or idempotency key reused"}}


@router.post(
    "/points/earn",
    response_model=LedgerEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_REPLAY, **_REFUSED, 409: {"description": "idempotency key reused"}},
)
def earn_points(
    wa_id: WaIdPath,
    body: EarnRequest,
    response: Response,
    session: SessionDep,
    caller: PointsAdjuster,
) -> LedgerEntryOut:
    partner = partners.get_by_wa_id(session, wa_id)
    result = ledger.earn(session, partner_id=partner.id, actor=caller.name, **body.model_dump())
    return _entry_out(result, response)


@router.post(
    "/points/spend",
    response_model=LedgerEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_REPLAY, **_REFUSED, **_CONFLICTS},
)
def spend_points(
    wa_id: WaIdPath,
    body: SpendRequest,
    response: Response,
    session: SessionDep,
    caller: PointsAdjuster,
) -> LedgerEntryOut:
    partner = partners.get_by_wa_id(session, wa_id)
    result = ledger.spend(session, partner_id=partner.id, actor=caller.name, **body.model_dump())
    return _entry_out(result, response)


@router.post(
    "/adjustments",
    response_model=LedgerEntryOut,
    status_code=status.HTTP_201_CREATED,
    responses={**_REPLAY, **_REFUSED, **_CONFLICTS},
)
def adjust_points(
    wa_id: WaIdPath,
    body: AdjustmentIn,
    response: Response,
    session: SessionDep,
    caller: PointsAdjuster,
) -> LedgerEntryOut:
    """A correction with a note: positive adds points, negative takes them (reason
    ``adjustment``; neither moves a tier). Audited with the note."""
    partner = partners.get_by_wa_id(session, wa_id)
    result = ledger.adjust(
        session,
        partner_id=partner.id,
        points=body.points,
        note=body.note,
        idempotency_key=body.idempotency_key,
        actor=caller.name,
    )
    return _entry_out(result, response)


def _entry_out(result: ledger.LedgerResult, response: Response) -> LedgerEntryOut:
    """201 for a new entry (the route's default); 200 for a replayed idempotency key."""
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return LedgerEntryOut.from_entry(result.entry)
