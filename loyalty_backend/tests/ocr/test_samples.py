"""Whole photos through the whole reader: a few phone-style photos from the synthetic
dev set (bench/invoices/generate.py) and the web phone's sample invoice, with the
fields printed on them (the JSON beside each photo)."""

import json
from pathlib import Path

import pytest

from app.ocr import Matcher, read_invoice
from app.ocr.engine import tesseract_available
from app.ocr.image import UnreadableImage

from .conftest import SAMPLES

pytestmark = pytest.mark.skipif(
    not tesseract_available(), reason="needs Debian's tesseract-ocr and tesseract-ocr-ind"
)

PHOTOS = sorted(SAMPLES.glob("*.jpg"))


def test_there_are_samples() -> None:
    assert len(PHOTOS) >= 4


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_reads_every_field_of_the_sample(photo: Path, content_matcher: Matcher) -> None:
    truth = json.loads(photo.with_suffix(".json").read_text())
    reading = read_invoice(photo.read_bytes(), "image/jpeg", content_matcher)
    assert reading.invoice_no == truth["invoice_no"]
    assert reading.invoice_date == truth["invoice_date"]
    assert reading.customer_code == truth["customer_code"]
    assert reading.seller == truth["seller"]
    assert [(ln.sku, ln.quantity) for ln in reading.lines] == [
        (ln["sku"], ln["quantity"]) for ln in truth["lines"]
    ]
    assert reading.seconds < 10


def _text_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text is a real text layer (Helvetica), as invoicing software
    exports it."""
    content = (
        "BT /F1 10 Tf 14 TL 40 800 Td "
        + " ".join("(" + ln.replace("(", "\\\\(").replace(")", "\\\\)") + ") Tj T*" for ln in lines)
        + " ET"
    )
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def test_a_pdf_with_a_text_layer_is_read_from_its_text(content_matcher: Matcher) -> None:
    pdf = _text_pdf(
        [
            "PT DISTRIBUSI NUSANTARA",
            "FAKTUR PENJUALAN",
            "No. Faktur : INV/DN/2611/00123     Kode Plg : CUST-0001",
            "Tanggal    : 26 Nov 2026           Kepada   : Toko Sinar Jaya",
            "No  Nama Barang                     Qty  Sat     Harga      Jumlah",
            "1   KOPI SUSU GULA AREN 24X200ML     10  KRT    96.000     960.000",
            "2   TEH MELATI 48X250ML               5  KRT   120.000     600.000",
            "                                           TOTAL        1.560.000",
        ]
    )
    reading = read_invoice(pdf, "application/pdf", content_matcher)
    assert reading.invoice_no == "INV/DN/2611/00123"
    assert reading.invoice_date == "2026-11-26"
    assert reading.customer_code == "CUST-0001"
    assert reading.seller == "PT Distribusi Nusantara"
    assert [(ln.sku, ln.quantity) for ln in reading.lines] == [("KSGA-24", 10), ("TML-48", 5)]


@pytest.mark.parametrize(
    ("data", "mime"),
    [(b"\xff\xd8\xff\xe0" + b"\x00" * 100, "image/jpeg"), (b"%PDF-1.4 broken", "application/pdf")],
)
def test_undecodable_bytes_are_refused(data: bytes, mime: str, content_matcher: Matcher) -> None:
    with pytest.raises(UnreadableImage):
        read_invoice(data, mime, content_matcher)
