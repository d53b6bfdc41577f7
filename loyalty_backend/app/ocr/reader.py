"""Read an invoice photo (or PDF) into the fields a claim needs."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from app.ocr import engine, fields, image
from app.ocr.engine import Row, Word
from app.ocr.items import find_items
from app.ocr.products import Matcher


@dataclass(frozen=True)
class ReadLine:
    sku: str
    quantity: int | None
    text: str
    confidence: float  # 0..1


@dataclass
class InvoiceReading:
    """What the OCR read; None where it read nothing (the contract's JSON, minus image_id)."""

    invoice_no: str | None = None
    invoice_date: str | None = None  # ISO
    customer_code: str | None = None
    seller: str | None = None
    lines: list[ReadLine] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_rows(rows: list[Row], matcher: Matcher) -> InvoiceReading:
    """Fields and lines from rows of words (Tesseract's, or a PDF's text layer)."""
    texts = [r.text for r in rows]
    heights = [r.height for r in rows]
    day = fields.find_invoice_date(texts)
    items = find_items(rows, matcher)
    return InvoiceReading(
        invoice_no=fields.find_invoice_no(texts),
        invoice_date=day.isoformat() if day else None,
        customer_code=fields.find_customer_code(texts),
        seller=fields.find_seller(texts, heights),
        lines=[ReadLine(i.sku, i.quantity, i.text, i.confidence) for i in items],
    )


def rows_from_text(text: str, char_width: int = 15, line_height: int = 30) -> list[Row]:
    """Rows with made-up boxes from plain text (a PDF's text layer, tests): each
    character one ``char_width`` wide, so columns stay where the spaces put them."""
    rows = []
    for n, line in enumerate(text.splitlines()):
        words = []
        col = 0
        for token in line.split(" "):
            if token:
                words.append(
                    Word(
                        token,
                        95.0,
                        col * char_width,
                        n * line_height,
                        len(token) * char_width,
                        int(line_height * 0.7),
                    )
                )
            col += len(token) + 1
        if words:
            rows.append(Row(words))
    return rows


def read_invoice(data: bytes, mime_type: str, products: Iterable[Any] | Matcher) -> InvoiceReading:
    """OCR ``data`` (JPEG, PNG or PDF) and parse it against the catalogue ``products``.

    A PDF with a text layer (exported by invoicing software) is read from its text,
    exactly; a scanned PDF is rendered and read like a photo. Raises
    image.UnreadableImage when the bytes cannot be decoded.
    """
    started = time.perf_counter()
    matcher = products if isinstance(products, Matcher) else Matcher(products)
    rows = pdf_rows(data) if mime_type == "application/pdf" else None
    if not rows or sum(len(r.text) for r in rows) < 40:
        page = image.prepare(image.decode(data, mime_type))
        rows = engine.read_words(page)
    reading = parse_rows(rows, matcher)
    reading.seconds = round(time.perf_counter() - started, 3)
    return reading


def pdf_rows(data: bytes) -> list[Row] | None:
    """Words of page 1's text layer with their boxes, as rows (None without one)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise image.UnreadableImage("not a readable PDF") from exc
    try:
        if len(pdf) == 0:
            raise image.UnreadableImage("the PDF has no page")
        page = pdf[0]
        height = page.get_height()
        textpage = page.get_textpage()
        scale = 200 / 72  # as if rendered at 200 dpi, like a photo's pixels
        words: list[Word] = []
        current: list[tuple[str, tuple[float, float, float, float]]] = []

        def flush() -> None:
            if current:
                left = min(b[0] for _, b in current)
                right = max(b[2] for _, b in current)
                bottom = min(b[1] for _, b in current)
                top = max(b[3] for _, b in current)
                words.append(
                    Word(
                        "".join(c for c, _ in current),
                        99.0,
                        int(left * scale),
                        int((height - top) * scale),
                        max(1, int((right - left) * scale)),
                        max(1, int((top - bottom) * scale)),
                    )
                )
                current.clear()

        for i in range(textpage.count_chars()):
            char = textpage.get_text_range(i, 1)
            if not char or char.isspace():
                flush()
                continue
            box = textpage.get_charbox(i)
            if current and box[0] - current[-1][1][2] > (box[3] - box[1]) * 0.6:
                flush()  # a gap without a space character: columns placed apart
            current.append((char, box))
        flush()
    finally:
        pdf.close()
    if not words:
        return None
    lines: dict[int, list[Word]] = {}
    for w in sorted(words, key=lambda w: w.cy):
        key = next((k for k in lines if abs(k - w.cy) < w.height * 0.5), int(w.cy))
        lines.setdefault(key, []).append(w)
    return [Row(sorted(ws, key=lambda w: w.left)) for _, ws in sorted(lines.items())]
