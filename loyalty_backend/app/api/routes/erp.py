"""ERP/DMS integration: sales lines pushed by the brand's ERP, and the redemption feed."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import AwareDatetime

from app.api.deps import RedemptionsReader, SalesWriter, SessionDep
from app.models.reward import RedemptionStatus, RewardKind
from app.schemas.erp import IngestOut, RejectedOut, SalesLinesIn
from app.schemas.reward import RedemptionFeedItem, RedemptionFeedOut
from app.services import erp, redemptions

router = APIRouter(prefix="/integrations/erp", tags=["erp"])


@router.post(
    "/sales-lines",
    response_model=IngestOut,
    responses={413: {"description": f"more than {erp.MAX_LINES_PER_CALL} lines"}},
)
def push_sales_lines(body: SalesLinesIn, session: SessionDep, _caller: SalesWriter) -> IngestOut:
    """Record invoice lines; idempotent per (normalised invoice number, SKU)."""
    if len(body.lines) > erp.MAX_LINES_PER_CALL:
        raise HTTPException(
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"at most {erp.MAX_LINES_PER_CALL} lines per call; got {len(body.lines)}",
        )
    result = erp.ingest(session, body.lines, source="api")
    return IngestOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[RejectedOut(index=r.index, reason=r.reason) for r in result.rejected],
    )


@router.get("/redemptions", response_model=RedemptionFeedOut)
def redemption_feed(
    session: SessionDep,
    _caller: RedemptionsReader,
    since: Annotated[
        AwareDatetime | None,
        Query(description="ISO datetime with offset: redemptions created or changed since"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> RedemptionFeedOut:
    """Redemptions created or changed at or after ``since``, oldest change first, for the
    ERP's books (cost of rewards, shipments). Poll with ``next_since``; an item may come
    again when it changes (or at the page boundary): key it by ``redemption_no``."""
    rows = redemptions.changed_since(session, since, limit=limit)
    items = [
        RedemptionFeedItem(
            redemption_no=redemption.redemption_no or "",
            wa_id=partner.wa_id,
            erp_customer_code=partner.erp_customer_code,
            reward_code=redemption.reward.code,
            kind=RewardKind(redemption.kind),
            status=RedemptionStatus(redemption.status),
            points_spent=redemption.points_spent,
            refunded_points=redemption.refunded_points,
            courier=redemption.courier,
            tracking_no=redemption.tracking_no,
            created_at=redemption.created_at,
            updated_at=redemption.updated_at,
        )
        for redemption, partner in rows
    ]
    return RedemptionFeedOut(items=items, next_since=rows[-1][0].updated_at if rows else None)
