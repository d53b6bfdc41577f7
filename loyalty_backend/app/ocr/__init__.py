"""Offline invoice OCR: Tesseract (``ind+eng``) plus the parsing that makes it useful.

``read_invoice(data, mime_type, products)`` -> ``InvoiceReading`` (invoice number, ISO
date, customer code, seller, lines of catalogue SKU and quantity with a confidence).
Modules: ``image`` (decode, find the sheet, straighten, flatten the light, scale),
``engine`` (Tesseract words and rows), ``fields`` (header fields), ``products``
(catalogue matching), ``items`` (lines and quantities), ``reader`` (the whole).
"""

from app.ocr.image import UnreadableImage
from app.ocr.products import CatalogueEntry, Matcher
from app.ocr.reader import InvoiceReading, ReadLine, parse_rows, read_invoice, rows_from_text

__all__ = [
    "CatalogueEntry",
    "InvoiceReading",
    "Matcher",
    "ReadLine",
    "UnreadableImage",
    "parse_rows",
    "read_invoice",
    "rows_from_text",
]
