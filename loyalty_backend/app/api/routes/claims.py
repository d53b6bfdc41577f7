"""A partner's sales and display claims (service token)."""

from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from app.api.deps import PartnerActor, PartnerReader, SessionDep, WaIdPath
from app.models import Claim
from app.schemas.claim import ClaimImageOut, ClaimIn, ClaimListOut, ClaimOut
from app.services import catalogue, claim_images, claims, partners
from app.services.errors import ImageTooLarge

router = APIRouter(tags=["claims"])

_SUBMIT_RESPONSES = {
    200: {"model": ClaimOut, "description": "Replayed idempotency key: the first claim"},
    403: {"description": "missing scope, or the partner is suspended / has left"},
    409: {
        "description": 'Refused as a duplicate: {"detail", "code": "duplicate_invoice" | '
        '"duplicate_photo", "claim_no"?} (claim_no: the partner\'s own earlier claim); or '
        "the idempotency key was used for another claim"
    },
    422: {"description": "unknown SKU or image, quantity out of range, incomplete claim"},
}


@router.post(
    "/claim-images",
    response_model=ClaimImageOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        413: {"description": "larger than 10 MB"},
        415: {"description": "not a JPEG, PNG or PDF"},
        422: {"description": "the file cannot be read"},
    },
)
async def upload_claim_image(
    file: Annotated[UploadFile, File(description="JPEG, PNG or PDF, at most 10 MB")],
    session: SessionDep,
    _caller: PartnerActor,
) -> ClaimImageOut:
    """Store a display/activity photo (no OCR); the claim references it by ``image_id``."""
    data = await file.read(claim_images.MAX_IMAGE_BYTES + 1)
    if len(data) > claim_images.MAX_IMAGE_BYTES:
        raise ImageTooLarge()
    image = claim_images.store_image(session, data, file.content_type)
    return ClaimImageOut(image_id=image.id)


@router.post(
    "/partners/by-wa/{wa_id}/claims",
    response_model=ClaimOut,
    status_code=status.HTTP_201_CREATED,
    responses=_SUBMIT_RESPONSES,
)
def submit_claim(
    wa_id: WaIdPath,
    body: ClaimIn,
    response: Response,
    session: SessionDep,
    caller: PartnerActor,
) -> ClaimOut:
    """Submit a claim: stored, then judged at once (approved, pending review or rejected)."""
    partner = partners.get_member(session, wa_id)
    result = claims.submit_claim(session, partner, actor=caller.name, **body.model_dump())
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _out(session, result.claim)


@router.get("/partners/by-wa/{wa_id}/claims", response_model=ClaimListOut)
def list_claims(
    wa_id: WaIdPath,
    session: SessionDep,
    _caller: PartnerReader,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> ClaimListOut:
    """The partner's own claims, newest first."""
    partner = partners.get_member(session, wa_id)
    items = claims.list_claims(session, partner.id, limit=limit)
    products = catalogue.get_products(session, {line.sku for c in items for line in c.lines})
    return ClaimListOut(items=[ClaimOut.from_claim(c, products) for c in items])


def _out(session: SessionDep, claim: Claim) -> ClaimOut:
    products = catalogue.get_products(session, [line.sku for line in claim.lines])
    return ClaimOut.from_claim(claim, products)
