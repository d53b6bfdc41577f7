"""ERP/DMS integration: sales lines pushed by the brand's ERP (ERP key)."""

from fastapi import APIRouter, HTTPException, status

from app.api.deps import SalesWriter, SessionDep
from app.schemas.erp import IngestOut, RejectedOut, SalesLinesIn
from app.services import erp

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
