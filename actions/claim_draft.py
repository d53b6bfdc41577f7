"""A sales-claim draft while the partner reviews it: what they typed, what the OCR read,
and their corrections in plain words.

Pure functions on plain data (the draft is a JSON dict kept in the ``claim_draft`` slot):
text in, values out, no I/O. Which product a name means and how many points a claim
gives are the backend's business; here words become *requests* ("set the quantity of
'kopi susu' to 12"), and resolved SKUs are applied to the draft.

Draft shape::

    {"kind": "sales", "invoice_no": str | None, "invoice_date": "YYYY-MM-DD" | None,
     "lines": [{"sku", "name", "unit", "quantity": int | None}],
     "unread": [str],            # OCR lines no product could be found for
     "image_id": str | None,     # the stored photo (from OCR)
     "editing": None | "invoice_no" | "invoice_date" | "lines",   # step-by-step correction
     "pick": None | {"kind", "quantity", "query", "candidates": [{"sku", "name"}]},
     "idempotency_key": str | None}  # fixed at the first confirmation, reused on retries
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

MAX_QUANTITY = 100_000

FIELD_INVOICE_NO = "invoice_no"
FIELD_INVOICE_DATE = "invoice_date"
FIELD_LINES = "lines"
FIELDS = (FIELD_INVOICE_NO, FIELD_INVOICE_DATE, FIELD_LINES)

# Correction kinds.
SET_INVOICE_NO = "invoice_no"
SET_INVOICE_DATE = "invoice_date"
SET_QUANTITY = "set"
ADD_LINE = "add"
REMOVE_LINE = "remove"
BAD_DATE = "bad_date"

_MONTHS = {
    "jan": 1, "januari": 1, "january": 1,
    "feb": 2, "februari": 2, "february": 2, "pebruari": 2,
    "mar": 3, "maret": 3, "march": 3,
    "apr": 4, "april": 4,
    "mei": 5, "may": 5,
    "jun": 6, "juni": 6, "june": 6,
    "jul": 7, "juli": 7, "july": 7,
    "agu": 8, "agt": 8, "ags": 8, "agustus": 8, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9,
    "okt": 10, "oktober": 10, "oct": 10, "october": 10,
    "nov": 11, "nopember": 11, "november": 11,
    "des": 12, "desember": 12, "dec": 12, "december": 12,
}
# Units partners write after a quantity ("10 krt"); they carry no meaning for the claim.
_UNITS = {
    "karton", "krt", "ktn", "ctn", "carton", "cartons", "dus", "dos", "box", "boxes",
    "bal", "bale", "bales", "pcs", "pc", "unit", "units", "pak", "pack", "packs",
    "renteng", "krat", "x",
}
# Words around a typed claim or a correction that are not part of a product name.
_FILLER = {
    "klaim", "claim", "mau", "pengen", "ingin", "poin", "point", "points", "submit",
    "dong", "ya", "kak", "min", "tolong", "please", "pls", "untuk", "buat", "dan", "and",
    "&", "+", "qty", "quantity", "jumlah", "jml", "jumlahnya", "ubah", "ganti", "change",
    "set", "update", "koreksi", "jadi", "menjadi", "to", "=", "sebanyak", "isi", "isinya",
    "produk", "product", "barang", "of", "the", "nya", "itu", "yang", "yg", "saya", "sy",
    "my", "i", "sold", "jual", "terjual", "penjualan", "sales", "sale", "invoice", "nota",
    "faktur", "no", "nomor", "number", "tgl", "tanggal", "date", "dated", "with", "dengan", "is",
}
_CANCEL = re.compile(
    r"\b(batal\w*|cancel\w*|gak jadi|ga jadi|gk jadi|nggak jadi|ngga jadi|enggak jadi|"
    r"tidak jadi|gajadi|gjd|never ?mind|abort|hapus (?:klaim|draf)|stop)\b"
)
_DISPLAY_CAPTION = re.compile(
    r"\b(display|displai|rak|etalase|pajangan|showcase|shelf|shelves|storefront|"
    r"toko|warung|spanduk|poster|event|acara)\b"
)
_INVOICE_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[/\-.][A-Za-z0-9]+)+")
_INVOICE_KEYWORD = re.compile(
    r"^(?:(?:no|nomor|nmr|nomer)\.?\s*)?(?:nota|faktur|invoice|inv|fkt)"
    r"(?:\s*(?:no\.?|nomor|number|nr|nya))?(?:\s*[:#]\s*|\s+)(\S+)\s*$"
    r"|^(?:no|nomor|nomer)\s*[:#.]?\s*(\S*\d\S*)\s*$"
)
_DATE_KEYWORD = re.compile(
    r"^(?:tanggal|tgl|date|tanggalnya|tglnya|invoice date|tanggal nota|tgl nota|"
    r"tanggal faktur|tgl faktur)\s*[:.]?\s*(.+)$"
)
_REMOVE = re.compile(r"^(?:hapus|hapuskan|apus|buang|hilangkan|delete|remove|drop)\s+(.+)$")
_ADD = re.compile(r"^(?:tambah|tambahkan|tambahin|add|plus)\s+(.+)$")
_NUMBER = re.compile(r"^(\d{1,7})([a-z]*)$")


@dataclass(frozen=True)
class LineChange:
    """A product as the partner wrote it, and a quantity (None: not given / remove)."""

    product: str
    quantity: int | None = None


@dataclass(frozen=True)
class Correction:
    """One correction of a draft, in the partner's words (products not yet resolved)."""

    kind: str
    value: str | None = None  # the invoice number, or the ISO date
    lines: tuple[LineChange, ...] = ()


@dataclass(frozen=True)
class TypedClaim:
    invoice_no: str | None
    invoice_date: str | None
    lines: tuple[LineChange, ...]

    @property
    def is_empty(self) -> bool:
        return not (self.invoice_no or self.invoice_date or self.lines)


# ------------------------------------------------------------------------ parsing


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def is_cancel_text(text: str) -> bool:
    """"batal", "gak jadi", "cancel" … (the partner abandons the draft)."""
    return bool(_CANCEL.search(_norm(text)))


def is_display_caption(caption: str | None) -> bool:
    """A caption saying the photo shows a display, shelf or storefront, not an invoice."""
    return bool(caption and _DISPLAY_CAPTION.search(_norm(caption)))


def parse_date(text: str, today: date | None = None) -> date | None:
    """``26/11/2026``, ``26-11-26``, ``2026-11-26``, ``26 Nov 2026``, ``26 november`` → date."""
    value = _norm(text).rstrip(".")
    year_default = (today or date.today()).year
    match = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", value)
    if match:
        return _date(int(match[1]), int(match[2]), int(match[3]))
    match = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})(?:[-/.](\d{2}|\d{4}))?", value)
    if match:
        year = _year(match[3], year_default)
        return _date(year, int(match[2]), int(match[1]))
    match = re.fullmatch(r"(\d{1,2})\s*[-/ ]?\s*([a-z]+)\.?\s*[-/ ]?\s*(\d{2}|\d{4})?", value)
    if match and match[2] in _MONTHS:
        return _date(_year(match[3], year_default), _MONTHS[match[2]], int(match[1]))
    match = re.fullmatch(r"([a-z]+)\.?\s+(\d{1,2}),?\s*(\d{4})?", value)  # "nov 26, 2026"
    if match and match[1] in _MONTHS:
        return _date(_year(match[3], year_default), _MONTHS[match[1]], int(match[2]))
    return None


def _year(raw: str | None, default: int) -> int:
    if not raw:
        return default
    return 2000 + int(raw) if len(raw) == 2 else int(raw)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _quantity(token: str) -> int | None:
    match = _NUMBER.match(token)
    if not match or (match[2] and match[2] not in _UNITS):
        return None
    value = int(match[1])
    return value if 0 <= value <= MAX_QUANTITY else None


def parse_lines(text: str) -> tuple[LineChange, ...]:
    """``kopi susu 10 teh melati 5 krt`` → (kopi susu, 10), (teh melati, 5).

    Names come before their quantity; a single line may also be written quantity
    first (``3 biskuit``, ``3 dus biskuit``). Filler words and units are dropped; a name
    without a quantity becomes a line with ``quantity=None``.
    """
    tokens = [t for t in re.split(r"[\s,;:]+|(?<=\D)(?==)|(?<==)(?=\D)", _norm(text)) if t]
    changes: list[LineChange] = []
    name: list[str] = []
    leading_quantity: int | None = None
    for index, token in enumerate(tokens):
        quantity = _quantity(token.lstrip("x").rstrip("x") or token)
        if quantity is not None and token not in ("x",):
            if name:
                changes.append(LineChange(" ".join(name), quantity))
                name = []
            elif not changes and leading_quantity is None and index < len(tokens) - 1:
                leading_quantity = quantity
            continue
        if token in _UNITS or token in _FILLER:
            continue
        name.append(token)
    if name:
        if leading_quantity is not None and not changes:
            changes.append(LineChange(" ".join(name), leading_quantity))
        else:
            changes.append(LineChange(" ".join(name), None))
    return tuple(c for c in changes if c.product)


def find_invoice_no(text: str) -> str | None:
    """An invoice-number-looking token (``INV/DN/2611/00123``, ``FKT-88213``), not a date."""
    for match in _INVOICE_TOKEN.finditer(text):
        token = match.group(0).strip(".-/")
        has_letter = any(c.isalpha() for c in token)
        digits = sum(c.isdigit() for c in token)
        if digits < 3 or parse_date(token) is not None:
            continue
        if has_letter or token.count("/") + token.count("-") >= 2:
            return token.upper()
    return None


def _find_date(text: str) -> tuple[str | None, str]:
    """The first date in ``text`` (ISO) and the text without it."""
    patterns = (
        r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b",
        r"\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})\b",
        r"\b\d{1,2}\s+[A-Za-z]{3,9}\.?\s+\d{4}\b",
    )
    for pattern in patterns:
        for match in re.finditer(pattern, text):
            parsed = parse_date(match.group(0))
            if parsed:
                return parsed.isoformat(), text[: match.start()] + " " + text[match.end():]
    return None, text


def parse_typed_claim(text: str) -> TypedClaim:
    """``klaim INV/DN/2611/00123 tgl 26/11/2026 kopi susu 10 teh melati 5`` → its parts."""
    invoice_date, rest = _find_date(text)
    invoice_no = find_invoice_no(rest)
    if invoice_no:
        rest = re.sub(re.escape(invoice_no), " ", rest, flags=re.IGNORECASE)
    lines = tuple(line for line in parse_lines(rest) if line.quantity)
    return TypedClaim(invoice_no, invoice_date, lines)


def parse_correction(text: str, editing: str | None = None) -> Correction | None:
    """A correction in plain words, or None when the text is not one.

    Understood (Indonesian and English): ``nomor nota INV/DN/2611/00123``, ``invoice
    number …``, ``tanggal 26/11/2026``, ``date 2026-11-26``, ``hapus teh melati``,
    ``remove …``, ``tambah biskuit 3``, ``add 3 biskuit``, ``qty kopi susu 12``,
    ``quantity …``, ``kopi susu 12``, ``kopi susu jadi 12``. ``editing`` is the field the
    partner picked step by step: the text is then read as that field's new value.
    """
    value = _norm(text)
    if not value:
        return None
    if editing == FIELD_INVOICE_NO:
        match = _INVOICE_KEYWORD.match(value)
        raw = (match[1] or match[2]) if match else text.strip().split()[-1]
        if not any(c.isdigit() for c in raw):
            return None
        return Correction(SET_INVOICE_NO, value=raw.strip(".,").upper())
    if editing == FIELD_INVOICE_DATE:
        match = _DATE_KEYWORD.match(value)
        parsed = parse_date(match[1] if match else value)
        if parsed:
            return Correction(SET_INVOICE_DATE, value=parsed.isoformat())
        # "ya", "batal"… are answers, not dates; "32/13" is a date written wrong.
        return Correction(BAD_DATE) if any(c.isdigit() for c in value) else None
    match = _INVOICE_KEYWORD.match(value)
    if match and any(c.isdigit() for c in (match[1] or match[2] or "")):
        return Correction(SET_INVOICE_NO, value=(match[1] or match[2]).strip(".,").upper())
    match = _DATE_KEYWORD.match(value)
    if match:
        parsed = parse_date(match[1])
        if parsed:
            return Correction(SET_INVOICE_DATE, value=parsed.isoformat())
        return Correction(BAD_DATE)
    match = _REMOVE.match(value)
    if match:
        names = [c.product for c in parse_lines(match[1])]
        return Correction(REMOVE_LINE, lines=tuple(LineChange(n) for n in names)) if names else None
    match = _ADD.match(value)
    if match:
        lines = tuple(c for c in parse_lines(match[1]) if c.quantity)
        return Correction(ADD_LINE, lines=lines) if lines else None
    if editing is None and parse_date(value):
        return Correction(SET_INVOICE_DATE, value=parse_date(value).isoformat())  # type: ignore[union-attr]
    lines = tuple(c for c in parse_lines(value) if c.quantity is not None)
    if lines:
        return Correction(SET_QUANTITY, lines=lines)
    return None


# ------------------------------------------------------------------------ the draft


def new_draft(kind: str = "sales") -> dict[str, Any]:
    return {
        "kind": kind, "invoice_no": None, "invoice_date": None, "lines": [], "unread": [],
        "image_id": None, "editing": None, "pick": None, "idempotency_key": None,
    }


def draft_from_ocr(ocr: Mapping[str, Any], products: Mapping[str, Mapping[str, Any]]) -> dict:
    """A draft from the backend's OCR answer; ``products`` is the catalogue by SKU."""
    draft = new_draft()
    draft["invoice_no"] = ocr.get("invoice_no") or None
    draft["invoice_date"] = ocr.get("invoice_date") or None
    draft["image_id"] = ocr.get("image_id")
    for line in ocr.get("lines") or []:
        sku, quantity = line.get("sku"), line.get("quantity")
        if sku and sku in products:
            _set_line(draft, _product(sku, products[sku]), quantity, add=True)
        elif line.get("text"):
            draft["unread"].append(str(line["text"]).strip())
    return draft


def draft_from_typed(typed: TypedClaim) -> dict[str, Any]:
    draft = new_draft()
    draft["invoice_no"] = typed.invoice_no
    draft["invoice_date"] = typed.invoice_date
    return draft


def ocr_read_anything(ocr: Mapping[str, Any]) -> bool:
    """Did the OCR find an invoice at all (a number, a date or a line)?"""
    return bool(ocr.get("invoice_no") or ocr.get("invoice_date") or ocr.get("lines"))


def merge_photo_into(typed: Mapping[str, Any], photo: Mapping[str, Any]) -> dict[str, Any]:
    """A typed draft completed by a photo: what the partner typed wins, the OCR fills gaps."""
    merged = copy.deepcopy(dict(typed))
    merged["image_id"] = photo.get("image_id")
    for field in (FIELD_INVOICE_NO, FIELD_INVOICE_DATE):
        merged[field] = merged.get(field) or photo.get(field)
    if not merged.get("lines"):
        merged["lines"] = copy.deepcopy(photo.get("lines") or [])
        merged["unread"] = list(photo.get("unread") or [])
    return merged


def _product(sku: str, product: Mapping[str, Any]) -> dict[str, Any]:
    return {"sku": sku, "name": product.get("name") or sku, "unit": product.get("unit") or ""}


def _set_line(
    draft: dict[str, Any], product: Mapping[str, Any], quantity: int | None, add: bool = False
) -> None:
    for line in draft["lines"]:
        if line["sku"] == product["sku"]:
            if add and quantity is not None and line.get("quantity") is not None:
                line["quantity"] += quantity
            else:
                line["quantity"] = quantity
            return
    draft["lines"].append({**product, "quantity": quantity})


def apply_correction(
    draft: Mapping[str, Any],
    correction: Correction,
    resolved: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The draft after ``correction``; ``resolved`` maps each product text of the
    correction to its catalogue product (``{"sku", "name", "unit"}``). Products not in
    ``resolved`` are left out (the caller tells the partner). Returns a new dict."""
    result = copy.deepcopy(dict(draft))
    result["editing"] = None
    resolved = resolved or {}
    if correction.kind == SET_INVOICE_NO:
        result["invoice_no"] = correction.value
    elif correction.kind == SET_INVOICE_DATE:
        result["invoice_date"] = correction.value
    elif correction.kind in (SET_QUANTITY, ADD_LINE, REMOVE_LINE):
        result["unread"] = []  # the partner is fixing the lines themselves
        for change in correction.lines:
            product = resolved.get(change.product)
            if product is None:
                continue
            if correction.kind == REMOVE_LINE or change.quantity == 0:
                result["lines"] = [ln for ln in result["lines"] if ln["sku"] != product["sku"]]
            else:
                _set_line(result, product, change.quantity, add=correction.kind == ADD_LINE)
    return result


def missing_fields(draft: Mapping[str, Any]) -> list[str]:
    """What must still be given before a sales claim can be sent, in asking order:
    ``invoice_no``, ``invoice_date``, ``lines`` (none), ``quantity`` (a line without
    one), ``photo`` (typed claims)."""
    missing = [f for f in (FIELD_INVOICE_NO, FIELD_INVOICE_DATE) if not draft.get(f)]
    if not draft.get("lines"):
        missing.append(FIELD_LINES)
    elif any(line.get("quantity") in (None, 0) for line in draft["lines"]):
        missing.append("quantity")
    if not draft.get("image_id"):
        missing.append("photo")
    return missing


def claim_body(draft: Mapping[str, Any], idempotency_key: str) -> dict[str, Any]:
    """The body of ``POST /partners/by-wa/{wa_id}/claims`` for a reviewed draft."""
    return {
        "kind": draft.get("kind") or "sales",
        "invoice_no": draft.get("invoice_no"),
        "invoice_date": draft.get("invoice_date"),
        "lines": [
            {"sku": line["sku"], "quantity": int(line["quantity"])}
            for line in draft.get("lines") or []
        ],
        "image_id": draft.get("image_id"),
        "idempotency_key": idempotency_key,
    }


def display_claim_body(image_id: str, idempotency_key: str) -> dict[str, Any]:
    return {
        "kind": "display", "invoice_no": None, "invoice_date": None, "lines": [],
        "image_id": image_id, "idempotency_key": idempotency_key,
    }


def pick_candidate(pick: Mapping[str, Any], answer: str) -> dict[str, Any] | None:
    """The candidate the partner picked: its SKU (a list button), its number in the list
    (``2``) or its exact name; None otherwise."""
    value = _norm(answer)
    candidates = list(pick.get("candidates") or [])
    if value.isdigit() and 1 <= int(value) <= len(candidates):
        return dict(candidates[int(value) - 1])
    for candidate in candidates:
        if value in (candidate["sku"].lower(), str(candidate.get("name", "")).lower()):
            return dict(candidate)
    return None
