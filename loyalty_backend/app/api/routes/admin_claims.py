"""Claim review for admins (admin key): the queue, the photo, the decision."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import ClaimsReviewer, SessionDep
from app.core.config import settings
from app.models import Claim, Partner
from app.schemas.claim import DecisionIn, ReviewClaimListOut, ReviewClaimOut
from app.services import catalogue, claim_images, claims
from app.services.errors import ClaimImageNotFound

router = APIRouter(prefix="/admin/claims", tags=["admin-claims"])

ClaimNoPath = Annotated[str, Path(min_length=1, max_length=16, examples=["KLM-000001"])]
StatusFilter = Literal["submitted", "pending_review", "approved", "rejected"]


@router.get("", response_model=ReviewClaimListOut)
def list_claims(
    session: SessionDep,
    _caller: ClaimsReviewer,
    status: StatusFilter | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ReviewClaimListOut:
    """Claims newest first (``?status=pending_review`` for the review queue), with their
    fraud signals, photo link and each line against the ERP data as it is now."""
    rows, total = claims.list_for_review(session, status=status, limit=limit, offset=offset)
    return ReviewClaimListOut(
        items=[_review_out(session, claim, partner) for claim, partner in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{claim_no}", response_model=ReviewClaimOut)
def get_claim(
    claim_no: ClaimNoPath, session: SessionDep, _caller: ClaimsReviewer
) -> ReviewClaimOut:
    claim = claims.get_claim(session, claim_no)
    return _review_out(session, claim, _partner(session, claim))


@router.get(
    "/{claim_no}/image",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}}},
)
def get_claim_image(
    claim_no: ClaimNoPath, session: SessionDep, _caller: ClaimsReviewer
) -> Response:
    """The photo (or PDF) sent with the claim, as sent."""
    claim = claims.get_claim(session, claim_no)
    image = claim_images.get_image(session, claim.image_id) if claim.image_id else None
    if image is None:
        raise ClaimImageNotFound()
    return Response(
        content=image.data,
        media_type=image.mime_type,
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.post(
    "/{claim_no}/decision",
    response_model=ReviewClaimOut,
    responses={409: {"description": "the claim is already approved or rejected"}},
)
def decide(
    claim_no: ClaimNoPath, body: DecisionIn, session: SessionDep, caller: ClaimsReviewer
) -> ReviewClaimOut:
    """Approve (points credited once) or reject (the reason is shown to the partner)."""
    claim = claims.decide(session, claim_no, body.decision, body.reason, caller.name)
    return _review_out(session, claim, _partner(session, claim))


def _partner(session: SessionDep, claim: Claim) -> Partner:
    partner = session.get(Partner, claim.partner_id)
    assert partner is not None
    return partner


def _review_out(session: SessionDep, claim: Claim, partner: Partner) -> ReviewClaimOut:
    checks = claims.current_line_checks(session, claim, partner)
    products = catalogue.get_products(session, [line.sku for line in claim.lines])
    return ReviewClaimOut.build(claim, partner, checks, products, settings.API_V1_STR)
