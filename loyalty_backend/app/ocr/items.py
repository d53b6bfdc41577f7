"""Invoice lines from OCR rows: which catalogue product, and how many.

The table is found by its header row ("No Kode Nama Barang Qty Sat Harga Jumlah"); the
quantity is the number under the Qty header (never the price or the total, which are
numbers too). Without a header (receipts) the quantity is the number before a unit
("10 KRT"), on the product's row or the next one ("10 KRT x 96.000").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from app.ocr.engine import Row, Word
from app.ocr.fields import as_digits
from app.ocr.products import MIN_SCORE, Matcher

HEADER_WORDS = [
    "no",
    "kode",
    "kd",
    "brg",
    "nama",
    "barang",
    "qty",
    "sat",
    "satuan",
    "harga",
    "jumlah",
    "total",
    "subtotal",
    "deskripsi",
    "keterangan",
    "kuantitas",
    "banyak",
    "banyaknya",
    "disc",
    "diskon",
    "item",
    "description",
    "price",
    "amount",
    "unit",
]
QTY_HEADERS = [
    "qty",
    "kuantitas",
    "banyak",
    "banyaknya",
    "kts",
    "quantity",
    "kwantitas",
    "jml",
    "qty.",
    "jml qty",
    "aty",
    "oty",
    "qly",
]
UNITS = r"(?:KRT|KTN|CTN|KARTON|KRTN|DUS|DS|BAL|BL|BOX|PAK|KIN|KRI|CIN|KTM)"
END_WORDS = re.compile(
    r"\b(SUB\s?TOTAL|GRAND|TOTAL|TERBILANG|HORMAT|PENERIMA|DITERIMA|CATATAN)\b", re.I
)
_NUMBER = re.compile(r"^[0-9OoIlSB|]{1,3}(?:[.,][0-9Oo]{3})*(?:[.,][0-9Oo]{1,2})?$")


@dataclass(frozen=True)
class ItemLine:
    sku: str
    quantity: int | None
    text: str
    confidence: float


def _norm(word: str) -> str:
    return re.sub(r"[^a-z.]", "", word.lower())


def header_row(rows: list[Row]) -> tuple[int, Word | None] | None:
    """Index of the table's header row and the Qty header word (None when it has none)."""
    for i, row in enumerate(rows):
        hits, qty = 0, None
        for w in row.words:
            token = _norm(w.text)
            if len(token) < 2:
                continue
            if max(fuzz.ratio(token, h) for h in HEADER_WORDS) >= 80:
                hits += 1
            if qty is None and (
                max(fuzz.ratio(token, h) for h in QTY_HEADERS) >= 75
                or token.endswith(("titas", "nyak", "nyaknya"))
            ):
                qty = w
        if hits >= 3:
            return i, qty
    return None


def cells(row: Row) -> list[list[Word]]:
    """Words grouped into table cells by the wide gaps between them."""
    out: list[list[Word]] = []
    gap = 0.8 * row.height
    for w in row.words:
        if out and w.left - out[-1][-1].right <= gap:
            out[-1].append(w)
        else:
            out.append([w])
    return out


def parse_quantity(token: str) -> int | None:
    """'10' -> 10, '10,00' -> 10, '1O' -> 10, '1.200' -> 1200; None for anything else."""
    token = re.sub(r"^[^0-9A-Za-z]+|[^0-9A-Za-z]+$", "", token)  # '«17.' '(24)' '|5'
    glued = re.fullmatch(rf"([0-9OoIlSB|]{{1,6}}(?:[.,]0{{1,2}})?){UNITS}", token, re.I)
    if glued:  # "393KRT"
        token = glued.group(1)
    if not any(c.isdigit() for c in token) or not _NUMBER.match(token):
        return None
    digits = as_digits(token)
    m = re.fullmatch(r"(\d+)[.,](\d{1,2})", digits)
    if m:
        if int(m.group(2)) != 0:
            return None  # a fraction is not a count of cartons
        digits = m.group(1)
    digits = digits.replace(".", "").replace(",", "")
    if not digits.isdigit():
        return None
    value = int(digits)
    return value if 0 < value <= 100000 else None


def _price_like(token: str) -> bool:
    return bool(re.fullmatch(r"\d{1,3}([.,]\d{3})+([.,]\d{2})?", token)) or (
        token.isdigit() and len(token) >= 5
    )


def _quantity_under(row: Row, qty_header: Word, name: list[Word]) -> int | None:
    """The number under the Qty header (the product name's own numbers aside)."""
    tol = max(qty_header.width * 0.6, 2.5 * row.height)
    best: tuple[float, int] | None = None
    for w in row.words:
        if w in name:
            continue
        if w.right < qty_header.left - tol or w.left > qty_header.right + tol:
            continue
        value = parse_quantity(w.text)
        if value is None or _price_like(w.text):
            continue
        distance = abs(w.cx - qty_header.cx)
        if best is None or distance < best[0]:
            best = (distance, value)
    return best[1] if best else None


_BEFORE_UNIT = re.compile(
    rf"(?<![\w.,])([0-9OoIlSB|]{{1,6}}(?:[.,]0{{1,2}})?)[.,]?\s*{UNITS}\b", re.I
)
# "26 KRT x 99.000": a count, maybe a unit, a space, then "x" and a price
_TIMES = re.compile(
    r"^\W*([0-9OoIlSB|]{1,6}(?:[.,]0{1,2})?)\s*(?:[A-Z]{1,6})?\s+[xX\u00d7@*]\s*\d", re.I
)


def _quantity_in_text(text: str) -> int | None:
    m = _BEFORE_UNIT.search(text)
    if m:
        return parse_quantity(m.group(1))
    m = _TIMES.match(text)
    if m:
        return parse_quantity(m.group(1))
    return None


def _first_count(words: list[Word]) -> int | None:
    for w in words:
        if _price_like(w.text) or w.text.startswith("("):
            continue
        value = parse_quantity(w.text)
        if value is not None:
            return value
    return None


_PACK = re.compile(
    r"^\(?\d{0,4}[xX]?\d{1,4}(?:ML|L|LT|LTR|G|GR|KG|S)?\)?(?:/\d{1,3})?$"
    r"|^[xX]\d{1,3}$|^\d{1,4}[xX]\d{1,4}\w*$|^\d{1,4}(?:ML|L|LT|LTR|G|GR|KG)\w*$"
    r"|^(?:BTL|PCS|[xX])$",
    re.I,
)


def _name_span(words: list[Word], matcher: Matcher) -> list[Word]:
    """From the first to the last word the catalogue knows, plus the pack size after it
    ("24X200ML", "(24)", "600ML 24 BTL"), which is not a quantity."""
    known = [i for i, w in enumerate(words) if matcher.knows(w.text)]
    if not known:
        return words
    end = known[-1] + 1
    while end < len(words):
        token = words[end].text
        nxt = words[end + 1].text if end + 1 < len(words) else ""
        is_pack = bool(_PACK.match(token)) and not token.isdigit()
        if is_pack or (token.isdigit() and nxt.upper() in ("BTL", "PCS", "X")):
            end += 1
            continue
        break
    return words[known[0] : end]


def find_items(rows: list[Row], matcher: Matcher) -> list[ItemLine]:
    header = header_row(rows)
    start = header[0] + 1 if header else 0
    qty_header = header[1] if header else None
    items: list[ItemLine] = []
    used: set[int] = set()
    for i in range(start, len(rows)):
        row = rows[i]
        if i in used:
            continue
        if END_WORDS.search(row.text) and items:
            break
        groups = cells(row)
        # the name is one cell, or a few when a wide space split it: the best-scoring
        # run of cells; on a tie the one with more catalogue words ("KOPSUS" | "LESS
        # SUGAR"), then the shorter one (not "1 | BRG0044 | KOPSUS LESS SUGAR")
        best = None  # (score, words, guess)
        best_key: tuple[float, int, int] | None = None
        for a in range(len(groups)):
            for b in range(a + 1, min(a + 3, len(groups)) + 1):
                span = [w for g in groups[a:b] for w in g]
                guess = matcher.guess(" ".join(w.text for w in span))
                if not guess:
                    continue
                known = sum(matcher.knows(w.text) for w in span)
                key = (round(guess.score, 2), known, -len(span))
                if best_key is None or key > best_key:
                    best, best_key = (guess.score, span, guess), key
        whole = matcher.guess(row.text)
        if whole and (best is None or whole.score > best[0] + 0.05):
            best = (whole.score, None, whole)
        code_sku = matcher.sku_in(row.text)
        if best is None or best[0] < MIN_SCORE:
            if not code_sku:
                continue
            # the brand's SKU printed as the item code, the name unread
            name_words = [w for w in row.words if matcher.sku_in(w.text) == code_sku] or row.words
            sku, score = code_sku, 0.8
        else:
            sku, score = best[2].sku, best[0]
            if code_sku and code_sku != sku:
                sku, score = code_sku, 0.7
            name_words = _name_span(row.words, matcher) if best[1] is None else best[1]
        after = [w for w in row.words if w.left > name_words[-1].right]
        quantity, sure = None, True
        if qty_header is not None:
            quantity = _quantity_under(row, qty_header, name_words)
        if quantity is None:
            quantity = _quantity_in_text(" ".join(w.text for w in after))
        if quantity is None and i + 1 < len(rows):
            nxt = rows[i + 1]
            nxt_guess = matcher.guess(nxt.text)
            if nxt_guess is None or nxt_guess.score < MIN_SCORE:  # not the next product
                quantity = _quantity_in_text(nxt.text)
                if quantity is not None:
                    used.add(i + 1)
        if quantity is None:
            quantity, sure = _first_count(after), False
        conf = sum(w.conf for w in name_words) / len(name_words) / 100
        confidence = round(min(1.0, score) * (0.5 + 0.5 * conf) * (1.0 if sure else 0.7), 2)
        if quantity is None:
            confidence = round(confidence * 0.5, 2)
        text = " ".join(w.text for w in name_words).strip(" |!'\"`~-_:;,.")
        items.append(ItemLine(sku, quantity, text, confidence))
    return items
