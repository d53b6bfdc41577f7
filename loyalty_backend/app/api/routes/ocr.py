"""Invoice photo reading (service token): POST /ocr/invoice."""

import threading
from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from app.api.deps import PartnerActor, SessionDep
from app.ocr import UnreadableImage as OcrUnreadable
from app.ocr import read_invoice
from app.schemas.ocr import OcrInvoiceOut
from app.services import catalogue, claim_images
from app.services.errors import ImageTooLarge, UnreadableImage

router = APIRouter(tags=["ocr"])

# Tesseract is CPU-bound and single-threaded per call: at most this many at once, the
# rest wait their turn instead of slowing every reading down.
_READERS = threading.BoundedSemaphore(2)


@router.post(
    "/ocr/invoice",
    response_model=OcrInvoiceOut,
    responses={
        413: {"description": "larger than 10 MB"},
        415: {"description": "not a JPEG, PNG or PDF (by content)"},
        422: {"description": "the file cannot be read as an image"},
    },
)
def read_invoice_photo(
    file: Annotated[UploadFile, File(description="invoice photo or PDF (JPEG, PNG, PDF; ≤ 10 MB)")],
    session: SessionDep,
    _caller: PartnerActor,
) -> OcrInvoiceOut:
    """Read invoice number, date, customer code, seller and lines (catalogue SKU and
    quantity) from the photo, store the photo, and return both. Fields the OCR could not
    read are null. A plain ``def``: FastAPI runs it in a worker thread, so the OCR never
    blocks the event loop."""
    data = file.file.read(claim_images.MAX_IMAGE_BYTES + 1)
    if len(data) > claim_images.MAX_IMAGE_BYTES:
        raise ImageTooLarge()
    if not data:
        raise UnreadableImage("the file is empty")
    mime = claim_images.check_upload(data, file.content_type)
    products = catalogue.list_products(session)
    try:
        with _READERS:
            reading = read_invoice(data, mime, products)
    except OcrUnreadable as exc:
        raise UnreadableImage(str(exc)) from exc
    image = claim_images.store_image(session, data, mime)
    return OcrInvoiceOut(image_id=image.id, **reading.as_dict())
