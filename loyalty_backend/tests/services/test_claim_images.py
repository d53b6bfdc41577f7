"""Claim photos: stored once by content, with a perceptual hash (PDF: page 1)."""

import io

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ClaimImage
from app.services import claim_images
from app.services.errors import ImageTooLarge, UnreadableImage, UnsupportedImageType
from tests.claims_utils import photo, reencoded


def _pdf(data: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buffer, format="PDF")
    return buffer.getvalue()


def test_the_same_file_is_stored_once(session: Session) -> None:
    data = photo(1)
    first = claim_images.store_image(session, data, "image/png")
    again = claim_images.store_image(session, data, "application/octet-stream")
    assert first.id == again.id and len(first.id) == 64
    assert first.mime_type == "image/png" and first.size == len(data)
    assert len(first.phash) == 16
    session.commit()
    assert session.scalar(select(func.count()).select_from(ClaimImage)) == 1
    assert claim_images.get_image(session, first.id).data == data


def test_a_forwarded_copy_has_the_same_perceptual_hash(session: Session) -> None:
    original = claim_images.store_image(session, photo(1), "image/png")
    copy = claim_images.store_image(session, reencoded(photo(1)), "image/jpeg")
    other = claim_images.store_image(session, photo(2), "image/png")
    assert copy.id != original.id and copy.mime_type == "image/jpeg"
    assert claim_images.hamming(original.phash, copy.phash) <= 6
    assert claim_images.hamming(original.phash, other.phash) > 6


def test_a_pdf_is_hashed_by_its_first_page(session: Session) -> None:
    image = claim_images.store_image(session, photo(3), "image/png")
    pdf = claim_images.store_image(session, _pdf(photo(3)), "application/pdf")
    assert pdf.mime_type == "application/pdf"
    assert claim_images.hamming(image.phash, pdf.phash) <= 6


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"GIF89a" + b"\0" * 64, UnsupportedImageType),
        (b"just text", UnsupportedImageType),
        (b"\x89PNG\r\n\x1a\n" + b"broken" * 10, UnreadableImage),
        (b"\xff\xd8\xff" + b"\0" * 64, UnreadableImage),
        (b"%PDF-1.4 not really", UnreadableImage),
    ],
)
def test_what_is_refused(session: Session, data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        claim_images.store_image(session, data, "image/png")
    session.commit()
    assert session.scalar(select(func.count()).select_from(ClaimImage)) == 0


def test_too_large_is_refused_before_reading(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claim_images, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(ImageTooLarge):
        claim_images.store_image(session, photo(1), "image/png")


def test_hamming() -> None:
    assert claim_images.hamming("0000000000000000", "000000000000000f") == 4
    assert claim_images.hamming("ffffffffffffffff", "0000000000000000") == 64
