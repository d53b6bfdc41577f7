"""Helpers for claim tests: the catalogue and rules, partners with customer codes, ERP
invoices, photos and claims."""

import io
import itertools
import random
from datetime import date
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from app.commands import load_content
from app.core.db import write_transaction
from app.models import Partner
from app.services import claims, erp, tiers
from tests.utils import new_partner

INVOICE_DATE = date(2026, 11, 20)
_codes = itertools.count(1)
_keys = itertools.count(1)


def load_catalogue(session: Session) -> None:
    """Tiers, products and earn rules from content/ (what the seed loads first)."""
    with write_transaction(session):
        tiers.ensure_default_tiers(session)
        load_content.load_content(session)


def partner_with_code(session: Session, code: str | None = None, **kwargs: Any) -> Partner:
    partner = new_partner(session, **kwargs)
    with write_transaction(session):
        partner.erp_customer_code = code or f"CUST-T{next(_codes):04d}"
    return partner


def erp_invoice(
    session: Session,
    invoice_no: str,
    customer_code: str,
    lines: dict[str, int],
    *,
    invoice_date: date = INVOICE_DATE,
    rejudge: bool = True,
) -> erp.IngestResult:
    result = erp.ingest(
        session,
        [
            {
                "invoice_no": invoice_no,
                "invoice_date": invoice_date.isoformat(),
                "customer_code": customer_code,
                "sku": sku,
                "quantity": quantity,
                "unit_price": 100000,
                "seller": "PT Uji Distribusi",
            }
            for sku, quantity in lines.items()
        ],
        source="test",
        rejudge=rejudge,
    )
    assert not result.rejected, result.rejected
    return result


def submit(
    session: Session,
    partner: Partner,
    invoice_no: str | None,
    lines: dict[str, int] | None = None,
    *,
    kind: str = "sales",
    key: str | None = None,
    image_id: str | None = None,
    invoice_date: date | None = INVOICE_DATE,
    **kwargs: Any,
) -> claims.SubmitResult:
    return claims.submit_claim(
        session,
        partner,
        kind=kind,
        invoice_no=invoice_no,
        invoice_date=invoice_date,
        lines=[{"sku": sku, "quantity": q} for sku, q in (lines or {}).items()],
        image_id=image_id,
        idempotency_key=key or f"wa:test-{next(_keys)}",
        **kwargs,
    )


def photo(seed: int, *, size: tuple[int, int] = (480, 640), fmt: str = "PNG") -> bytes:
    """A deterministic picture: different seeds give clearly different pictures."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        x1, y1 = x0 + rng.randrange(40, 240), y0 + rng.randrange(40, 240)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle((x0, y0, x1, y1), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def reencoded(data: bytes, *, fmt: str = "JPEG", scale: float = 0.8) -> bytes:
    """The same picture, re-compressed and re-scaled (what forwarding a photo does)."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.resize((int(image.width * scale), int(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=70)
    return buffer.getvalue()
