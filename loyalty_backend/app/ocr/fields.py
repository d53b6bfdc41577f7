"""Header fields of an invoice from its OCR rows: number, date, customer code, seller.

Each field is found next to its label first ("No. Faktur", "Tgl", "Kode Plg", ...),
then by its shape anywhere on the page. OCR confuses look-alike characters (O/0,
I/l/1, S/5, B/8); values are repaired by what the position must hold (a digit in a
run of digits, a letter in a run of letters).
"""

from __future__ import annotations

import re
import string
from datetime import date

from rapidfuzz import fuzz, process

# --- look-alike repair ----------------------------------------------------------------

_TO_DIGIT = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "Q": "0",
        "D": "0",
        "I": "1",
        "l": "1",
        "|": "1",
        "i": "1",
        "!": "1",
        "L": "1",
        "S": "5",
        "s": "5",
        "B": "8",
        "Z": "2",
        "z": "2",
        "G": "6",
        "b": "6",
        "g": "9",
        "T": "7",
        "A": "4",
    }
)
# Digits and marks OCR reads where a letter was printed.
_LETTER_FOR = {
    "0": "O",
    "1": "I",
    "5": "S",
    "8": "B",
    "2": "Z",
    "6": "G",
    "4": "A",
    ")": "J",
    "]": "J",
    "|": "I",
    "$": "S",
    "l": "I",
}
_TO_LETTER = str.maketrans(_LETTER_FOR)


def as_digits(text: str) -> str:
    return text.translate(_TO_DIGIT)


_STRONG_LETTERS = set(string.ascii_letters) - {chr(k) for k in _TO_DIGIT}
_STRONG_DIGITS = set(string.digits) - {chr(k) for k in _TO_LETTER}


def _repair_segment(seg: str) -> str:
    """A segment of a code is all digits or all letters: mend the odd one out."""
    if not seg:
        return seg
    strong_letters = sum(c in _STRONG_LETTERS for c in seg)
    strong_digits = sum(c in _STRONG_DIGITS for c in seg)
    if strong_letters and not strong_digits:
        return seg.translate(_TO_LETTER).upper()
    if strong_digits and not strong_letters:
        return as_digits(seg)
    digits = sum(c.isdigit() for c in seg)
    letters = sum(c.isalpha() for c in seg)
    if strong_letters and strong_digits:
        return seg.upper()
    if digits >= letters and digits > 0:
        return as_digits(seg)
    return seg.translate(_TO_LETTER).upper()


# Document-type codes distributors put inside their numbers (Surat Jalan, Faktur Jual,
# Sales Order, ...): a short segment read as digits ("53") that spells one of these
# with letters is that code.
DOC_CODES = {"SJ", "FJ", "PJ", "SO", "DO", "PO", "INV", "FKT", "FP", "NP", "DN", "SI", "JL", "NJ"}
# Bolder guesses, only to spell a known document code: "3" and "7" are digits too often
# to be read as letters anywhere else.
_LETTER_GUESS = str.maketrans({**_LETTER_FOR, "3": "J", "7": "T"})


def repair_code(raw: str) -> str:
    """Fix look-alikes per segment of a document number ("2607/5J/59423" -> "2607/SJ/59423")."""
    raw = raw.strip().strip(".,;:'\"`")
    raw = re.sub(r"\s*([/\-.])\s*", r"\1", raw)
    parts = re.split(r"([/\-.])", raw)
    fixed = [p if p in "/-." else _repair_segment(p) for p in parts]
    for i in range(2, len(fixed) - 2, 2):
        seg = fixed[i]
        between_numbers = fixed[i - 2].isdigit() or fixed[i + 2].isdigit()
        if 2 <= len(seg) <= 3 and not seg.isalpha() and between_numbers:
            guess = seg.translate(_LETTER_GUESS).upper()
            if guess in DOC_CODES:
                fixed[i] = guess
    return "".join(fixed).upper()


# --- labels ---------------------------------------------------------------------------

# Label patterns are matched against a row with its spaces and dots made optional.
NUMBER_LABELS = [
    r"no[.,]?\s*:?\s*fa[kc]t[uo]r",
    r"nomor\s*fa[kc]t[uo]r",
    r"no[.,]?\s*invoice",
    r"invoice\s*no\.?",
    r"no[.,]?\s*inv\b",
    r"no[.,]?\s*nota",
    r"nomor\s*nota",
    r"no[.,]?\s*transaksi",
    r"fa[kc]t[uo]r\s*no\.?",
    r"no[.,]?\s*dokumen",
    r"no[.,]?\s*bukti",
    r"nomor\b",
    r"invoice\s*#",
    r"(?<!tgl )(?<!tanggal )\binvoice\b(?!\s*date)",
    r"no[.,]?\s*(?=[:])",
]
DATE_LABELS = [
    r"tanggal\s*fa[kc]t[uo]r",
    r"tgl[.,]?\s*fa[kc]t[uo]r",
    r"tgl[.,]?\s*invoice",
    r"tanggal",
    r"tgl[.,]?",
    r"tg1\.?",
    r"date\b",
]
DUE_LABELS = [r"jatuh\s*tempo", r"j\.?\s*tempo", r"due", r"tgl[.,]?\s*kirim", r"tempo"]
CODE_LABELS = [
    r"kode\s*p[e]?l[a]?[n]?[g]?[g]?[a]?[n]?",
    r"kd[.,]?\s*plg",
    r"kd[.,]?\s*pelanggan",
    r"id\s*pelanggan",
    r"kode\s*cust(?:omer)?",
    r"kd[.,]?\s*cust",
    r"customer\s*code",
    r"no[.,]?\s*pelanggan",
    r"kode\s*plg",
]
BUYER_LABELS = [r"kepada", r"pelanggan", r"customer", r"pembeli", r"bill\s*to", r"dikirim\s*ke"]
TITLE_WORDS = ("FAKTUR", "NOTA", "INVOICE", "KWITANSI", "SURAT JALAN")

# a document number: letters/digits joined by / - . (at least one digit, 4+ chars)
_DOC_NO = re.compile(r"[A-Z0-9][A-Z0-9)\]|]*(?:\s?[/\-.]\s?[A-Z0-9)\]|]+)*", re.I)


def _label_spans(text: str, labels: list[str]) -> list[tuple[int, int]]:
    spans = []
    for label in labels:
        for m in re.finditer(label, text, re.I):
            spans.append((m.start(), m.end()))
    return sorted(spans)


def _after_label(text: str, end: int) -> str:
    rest = text[end:]
    return re.sub(r"^[\s:;.,=_\-'\"`|\u2014\u2013~]*", "", rest)


def _cut_at_next_label(value: str) -> str:
    """Two-column headers put another label on the same row: stop before it."""
    stops = (
        NUMBER_LABELS[:-1]
        + DATE_LABELS
        + DUE_LABELS
        + CODE_LABELS
        + BUYER_LABELS
        + [
            r"\|",
            r"sales\b",
            r"telp",
            r"npwp",
            r"halaman",
            r"hal\.",
        ]
    )
    cut = len(value)
    for label in stops:
        m = re.search(r"(?:^|\s)" + label, value, re.I)
        if m and m.start() > 0:
            cut = min(cut, m.start())
    return value[:cut].strip()


# --- invoice number -------------------------------------------------------------------


def _plausible_number(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    return len(value) >= 4 and digits >= 3 and not _looks_like_date(value)


def _looks_like_date(value: str) -> bool:
    return parse_date(value) is not None and len(re.sub(r"\D", "", value)) in (6, 8)


def number_from_value(value: str) -> str | None:
    value = _cut_at_next_label(value)
    m = _DOC_NO.match(value)
    if m and len(m.group(0)) <= 2 and not _plausible_number(m.group(0)):
        # a colon read as "1" or "i": the number is the next token
        rest = value[m.end() :].lstrip(" :;")
        m = _DOC_NO.match(rest) or m
        value = rest if m.string is rest else value
    if not m:
        return None
    candidate = repair_code(m.group(0))
    # "FP-2025-576633" read with spaces: "FP 2025-576633" -> keep joining short heads
    if re.fullmatch(r"[A-Z]{2,4}", candidate):
        rest = value[m.end() :].strip()
        m2 = _DOC_NO.match(rest)
        if m2:
            candidate = (
                f"{candidate}-{repair_code(m2.group(0))}"
                if not re.match(r"[/\-.]", rest)
                else candidate + repair_code(m2.group(0))
            )
    return candidate if _plausible_number(candidate) else None


_SHAPES = [
    re.compile(r"\b[A-Z]{2,4}\s?/\s?[A-Z]{1,4}\s?/\s?\d{4}\s?/\s?\d{3,6}\b"),  # INV/DN/2611/00123
    re.compile(r"\b\d{4}\s?/\s?[A-Z]{1,4}\s?/\s?\d{3,6}\b"),  # 2611/SJ/00045
    re.compile(r"\b(?:FKT|INV|FP|SO|NP|FJ|PJ)[-.]\s?\d{2,4}(?:[-.]\d{2,6}){0,2}\b"),  # FKT-88213
]


def find_invoice_no(rows: list[str]) -> str | None:
    for text in rows:
        for start, end in _label_spans(text, NUMBER_LABELS):
            before = text[max(0, start - 12) : start].lower()
            if "pelanggan" in before or "plg" in before or "telp" in before:
                continue
            value = number_from_value(_after_label(text, end))
            if value:
                return value
    for text in rows:  # no label read: a number shaped like an invoice number
        for shape in _SHAPES:
            m = shape.search(text.upper())
            if m:
                return repair_code(m.group(0))
    return None


# --- dates ----------------------------------------------------------------------------

MONTHS = {
    "jan": 1,
    "januari": 1,
    "january": 1,
    "feb": 2,
    "februari": 2,
    "february": 2,
    "peb": 2,
    "mar": 3,
    "maret": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "mei": 5,
    "may": 5,
    "jun": 6,
    "juni": 6,
    "june": 6,
    "jul": 7,
    "juli": 7,
    "july": 7,
    "agu": 8,
    "agt": 8,
    "ags": 8,
    "agustus": 8,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "okt": 10,
    "oktober": 10,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "nop": 11,
    "november": 11,
    "nopember": 11,
    "des": 12,
    "desember": 12,
    "dec": 12,
    "december": 12,
}
_D = r"[0-9OoIlSB|]"
_SEP = r"\s?[/\-.]\s?"
_NUMERIC_DMY = re.compile(rf"({_D}{{1,2}}){_SEP}({_D}{{1,2}}){_SEP}({_D}{{4}}|{_D}{{2}})(?!\d)")
_NUMERIC_YMD = re.compile(rf"({_D}{{4}}){_SEP}({_D}{{1,2}}){_SEP}({_D}{{1,2}})(?!\d)")
_NAMED = re.compile(
    rf"({_D}{{1,2}})[\s\-/.]*([A-Za-z]{{3,9}})\.?[\s\-/.,]*({_D}{{4}}|{_D}{{2}})(?!\d)"
)


def _year(text: str) -> int:
    y = int(as_digits(text))
    return y + 2000 if y < 100 else y


def _month(name: str) -> int | None:
    key = name.lower()
    if key in MONTHS:
        return MONTHS[key]
    if len(key) >= 3:
        best = process.extractOne(key, list(MONTHS), scorer=fuzz.ratio, score_cutoff=75)
        if best:
            return MONTHS[best[0]]
    return None


def _make(y: int, m: int, d: int) -> date | None:
    if not 1990 <= y <= 2100:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    """The first date in ``text``: 26/11/2026, 26-11-26, 26.11.2026, 2026-11-26,
    26 Nov 2026, 26 Agustus 2026 (Indonesian and English month names)."""
    best: tuple[int, date] | None = None
    for m in _NUMERIC_YMD.finditer(text):
        d = _make(_year(m.group(1)), int(as_digits(m.group(2))), int(as_digits(m.group(3))))
        if d and (best is None or m.start() < best[0]):
            best = (m.start(), d)
    for m in _NUMERIC_DMY.finditer(text):
        d = _make(_year(m.group(3)), int(as_digits(m.group(2))), int(as_digits(m.group(1))))
        if d and (best is None or m.start() < best[0]):
            best = (m.start(), d)
    for m in _NAMED.finditer(text):
        month = _month(m.group(2))
        if month is None:
            continue
        d = _make(_year(m.group(3)), month, int(as_digits(m.group(1))))
        if d and (best is None or m.start() < best[0]):
            best = (m.start(), d)
    return best[1] if best else None


def find_invoice_date(rows: list[str]) -> date | None:
    for text in rows:
        for _, end in _label_spans(text, DATE_LABELS):
            head = text[:end].lower()
            if re.search(r"tempo|due|kirim", head[-25:]):
                continue
            value = _cut_at_next_label(_after_label(text, end))
            found = parse_date(value)
            if found:
                return found
    for text in rows:  # unlabelled: the first date not on a due-date row
        if _label_spans(text, DUE_LABELS):
            parts = re.split("|".join(DUE_LABELS), text, flags=re.I)
            text = parts[0]
        found = parse_date(text)
        if found:
            return found
    return None


# --- customer code ----------------------------------------------------------------------

_CUST = re.compile(
    r"C\s?[UV]\s?[S5$]\s?[T7]\s?[-\u2013_.:~=]?\s?([0-9OoIlSB|]{3,6})(?![0-9])", re.I
)


def find_customer_code(rows: list[str]) -> str | None:
    for text in rows:
        m = _CUST.search(text)
        if m:
            return f"CUST-{as_digits(m.group(1))}"
    for text in rows:
        for _, end in _label_spans(text, CODE_LABELS):
            value = _cut_at_next_label(_after_label(text, end))
            m = _DOC_NO.match(value)
            if m and any(c.isdigit() for c in m.group(0)) and len(m.group(0)) >= 3:
                return repair_code(m.group(0))
    return None


# --- seller ---------------------------------------------------------------------------

_COMPANY = re.compile(r"\b(PT|CV|UD|PD|TB|TOKO|KOPERASI|KOP)\b\.?\s+\S", re.I)
_FORM = {"pt": "PT", "cv": "CV", "ud": "UD", "pd": "PD", "tb": "TB"}


def tidy_name(raw: str) -> str:
    """'PT. DISTRIBUSI  NUSANTARA' -> 'PT Distribusi Nusantara'."""
    words = re.sub(r"[^\w&'\-. ]", " ", raw).replace(".", " ").split()
    out = []
    for w in words:
        low = w.lower()
        if low in _FORM:
            out.append(_FORM[low])
        elif w.isupper() or w.islower():
            out.append(w.capitalize())
        else:
            out.append(w)
    return " ".join(out)


def _strip_title(text: str) -> str:
    for word in TITLE_WORDS:
        m = re.search(r"\b" + word, text, re.I)
        if m:
            text = text[: m.start()] if m.start() > 0 else ""
    return text.strip(" :-|")


def find_seller(rows: list[str], heights: list[float] | None = None) -> str | None:
    """The issuing company: the first company name above the buyer and field labels."""
    top: list[tuple[int, str]] = []
    for i, text in enumerate(rows[:8]):
        if (
            _label_spans(text, BUYER_LABELS)
            or _label_spans(text, NUMBER_LABELS[:-1])
            or (_label_spans(text, CODE_LABELS))
        ):
            break
        top.append((i, text))
    for _, text in top:
        m = _COMPANY.search(text)
        if m:
            name = _strip_title(text[m.start() :])
            name = re.split(r"\s{2,}|\bJl\b|\bJalan\b|\bTelp|,", name, flags=re.I)[0]
            if len(name) >= 5:
                return tidy_name(name)
    # no legal form printed: the biggest text among the first rows that is not a title
    candidates = []
    for i, text in top[:4]:
        name = _strip_title(text)
        letters = sum(c.isalpha() for c in name)
        if letters >= 4 and letters >= 0.6 * len(name.replace(" ", "")):
            size = heights[i] if heights else 1.0
            candidates.append((size, -i, name))
    if candidates:
        return tidy_name(max(candidates)[2])
    return None
