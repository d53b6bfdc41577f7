"""Claim photos: stored once per content, with a perceptual hash for near-duplicates.

- The id is the SHA-256 hex of the bytes: the same file sent twice is one row
  (``store_image`` returns the existing one), and "the same photo again" is an exact
  match on the id.
- ``phash`` is imagehash's 64-bit perceptual hash (16 hex digits) of the image, or of
  page 1 of a PDF (rendered with pypdfium2). Two photos of one invoice, re-compressed or
  re-scaled, land within a few bits of each other. Invoice layouts are templates, so
  two *different* invoices of one distributor can be close too: a near-duplicate is a
  reason for a person to look (fraud.py), never a refusal on its own.
- Accepted: JPEG, PNG, PDF, at most ``MAX_IMAGE_BYTES``; the type is read from the
  content (magic bytes), not from what the client claims.
"""

import hashlib
import io
import logging
from dataclasses import dataclass

import imagehash
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import write_transaction
from app.models import Claim, ClaimImage
from app.models.claim import ClaimStatus
from app.services.errors import ImageTooLarge, UnreadableImage, UnsupportedImageType

log = logging.getLogger("app.services.claim_images")

MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Hamming distance (of 64 bits) up to which two perceptual hashes count as "the same
# photo": re-encoding and re-scaling move a hash by a few bits.
NEAR_DUPLICATE_MAX_DISTANCE = 6

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
ACCEPTED_TYPES = frozenset(mime for _, mime in _MAGIC)


@dataclass(frozen=True)
class NearDuplicate:
    image_id: str
    distance: int
    claim_no: str


def sniff_mime_type(data: bytes) -> str | None:
    """The accepted type ``data`` really is (by its first bytes), or None."""
    return next((mime for magic, mime in _MAGIC if data.startswith(magic)), None)


def check_upload(data: bytes, declared_type: str | None = None) -> str:
    """The upload's real type; raise ImageTooLarge / UnsupportedImageType otherwise."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLarge()
    mime = sniff_mime_type(data)
    if mime is None:
        raise UnsupportedImageType(
            f"unsupported file type {declared_type or 'unknown'}: send a JPEG, PNG or PDF"
        )
    return mime


def first_page(data: bytes, mime_type: str) -> Image.Image:
    """The picture to hash (and to read): the image itself, or page 1 of a PDF."""
    try:
        if mime_type == "application/pdf":
            import pypdfium2  # imported lazily: only PDFs need it

            pdf = pypdfium2.PdfDocument(data)
            try:
                if len(pdf) == 0:
                    raise UnreadableImage("the PDF has no pages")
                page = pdf[0]
                return page.render(scale=150 / 72).to_pil()
            finally:
                pdf.close()
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except UnreadableImage:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage() from exc
    except Exception as exc:  # pypdfium2 raises its own PdfiumError
        raise UnreadableImage() from exc


def perceptual_hash(image: Image.Image) -> str:
    return str(imagehash.phash(image.convert("L")))


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def store_image(session: Session, data: bytes, mime_type: str | None = None) -> ClaimImage:
    """Store ``data`` (JPEG, PNG or PDF) once; return its row (id = SHA-256 hex).

    Raises ImageTooLarge (> 10 MB), UnsupportedImageType (not JPEG/PNG/PDF by content)
    and UnreadableImage (a corrupt file). Safe under concurrent uploads of one file.
    """
    mime = check_upload(data, mime_type)
    digest = hashlib.sha256(data).hexdigest()
    existing = session.get(ClaimImage, digest)
    if existing is not None:
        return existing
    phash = perceptual_hash(first_page(data, mime))
    try:
        with write_transaction(session):
            image = ClaimImage(
                id=digest,
                mime_type=mime,
                data=data,
                size=len(data),
                phash=phash,
                created_at=utcnow(),
            )
            session.add(image)
    except IntegrityError:
        # The same file uploaded at the same moment: the other upload stored it.
        image = session.get(ClaimImage, digest)
        if image is None:
            raise
    return image


def get_image(session: Session, image_id: str) -> ClaimImage | None:
    return session.get(ClaimImage, image_id)


def claims_using_image(
    session: Session, image_id: str, *, exclude_claim_id: int | None = None
) -> list[str]:
    """Claim numbers of the claims (not rejected) that use this exact image."""
    query = select(Claim.claim_no).where(
        Claim.image_id == image_id, Claim.status != ClaimStatus.REJECTED.value
    )
    if exclude_claim_id is not None:
        query = query.where(Claim.id != exclude_claim_id)
    return [no for no in session.scalars(query.order_by(Claim.id)) if no]


def near_duplicates(
    session: Session,
    image: ClaimImage,
    *,
    exclude_claim_id: int | None = None,
    max_distance: int = NEAR_DUPLICATE_MAX_DISTANCE,
) -> list[NearDuplicate]:
    """Other images within ``max_distance`` bits of ``image``'s phash, used by earlier
    claims that are not rejected (closest first).

    Compared in Python over the claimed images' hashes: SQLite has no popcount, and one
    pass over a few hundred thousand 64-bit integers takes milliseconds.
    """
    if image.phash is None:
        return []
    query = (
        select(ClaimImage.id, ClaimImage.phash, Claim.claim_no)
        .join(Claim, Claim.image_id == ClaimImage.id)
        .where(
            ClaimImage.id != image.id,
            ClaimImage.phash.is_not(None),
            Claim.status != ClaimStatus.REJECTED.value,
        )
    )
    if exclude_claim_id is not None:
        query = query.where(Claim.id < exclude_claim_id)
    target = int(image.phash, 16)
    found = []
    for other_id, other_hash, claim_no in session.execute(query):
        distance = (target ^ int(other_hash, 16)).bit_count()
        if distance <= max_distance and claim_no:
            found.append(NearDuplicate(other_id, distance, claim_no))
    return sorted(found, key=lambda d: (d.distance, d.claim_no))
