"""The catalogue: products, and turning the words people use for them into SKUs.

Partners write "kopsus", "teh", "kopi susu 10"; distributors print "KOPSUS GULA AREN
24X200ML", "KOPI SUSU GA (24)". Matching never compares raw strings:

1. ``normalise_product_text`` lower-cases, drops pack sizes ("24X200ML", "24 x 200 ml",
   "(24)", "1L", "150G"), unit words ("krt", "karton", "dus"), bare numbers and
   punctuation, and expands the abbreviations distributors use ("kopsus" -> "kopi susu",
   "ga" -> "gula aren", "ls" -> "less sugar", "klp" -> "kelapa", ...).
2. Each product is known by its texts: SKU, name, short name and synonyms, normalised
   the same way. A query scores against every text with rapidfuzz; a product's score is
   its best text's. An exact text scores 100; a query that is a subset of a text (or the
   other way round: "kopi" in "kopi hitam") scores at most ``SUBSET_SCORE``, so one
   generic word never beats a product named exactly that way; typos are caught by the
   edit-distance ratio ("teh mlati" -> 95).
3. ``resolve_product`` says yes only when the best product is close enough
   (``SURE_SCORE``) and clearly ahead of the next (``MARGIN``): "kopi susu" is Kopi Susu
   Gula Aren (its synonym; "less sugar" must be said), "kopi" alone is a list to pick from.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Product
from app.services.errors import DomainError

MIN_SCORE = 60.0  # below this a product is not a candidate at all
SURE_SCORE = 85.0  # the best must reach this to be taken without asking
MARGIN = 8.0  # ... and be this far ahead of the next product
SUBSET_SCORE = 90.0  # cap for "one side's words are all in the other"


class UnknownSku(DomainError):
    detail = "unknown product"

    def __init__(self, sku: str) -> None:
        super().__init__(f"unknown product SKU {sku!r}")
        self.sku = sku


@dataclass(frozen=True)
class ProductView:
    sku: str
    name: str
    unit: str
    points_per_unit: int
    is_new: bool
    synonyms: tuple[str, ...]
    short_name: str = ""

    @property
    def display_name(self) -> str:
        return self.short_name or self.name


@dataclass(frozen=True)
class ProductMatch:
    sku: str
    name: str
    score: float  # 0..100


def _view(product: Product) -> ProductView:
    return ProductView(
        sku=product.sku,
        name=product.name,
        unit=product.unit,
        points_per_unit=product.points_per_unit,
        is_new=product.is_new,
        synonyms=tuple(s.text for s in product.synonyms),
        short_name=product.short_name,
    )


def list_products(session: Session, *, include_inactive: bool = False) -> list[ProductView]:
    """Products by SKU, active ones only unless asked."""
    query = select(Product).options(selectinload(Product.synonyms)).order_by(Product.sku)
    if not include_inactive:
        query = query.where(Product.active.is_(True))
    return [_view(p) for p in session.scalars(query)]


def get_products(session: Session, skus: Iterable[str]) -> dict[str, ProductView]:
    """The known products among ``skus`` (inactive included: old invoices name them)."""
    wanted = {s.strip().upper() for s in skus}
    if not wanted:
        return {}
    query = select(Product).options(selectinload(Product.synonyms)).where(Product.sku.in_(wanted))
    return {p.sku: _view(p) for p in session.scalars(query)}


# --- normalising ----------------------------------------------------------------------

# Whole-word abbreviations and spelling variants, applied after lower-casing.
ABBREVIATIONS = {
    "kopsus": "kopi susu",
    "kps": "kopi susu",
    "ga": "gula aren",
    "ls": "less sugar",
    "lesssugar": "less sugar",
    "htm": "hitam",
    "hitm": "hitam",
    "tbk": "tubruk",
    "mlt": "melati",
    "coklat": "cokelat",
    "choco": "cokelat",
    "chocolate": "cokelat",
    "ckl": "cokelat",
    "bisk": "biskuit",
    "biscuit": "biskuit",
    "klp": "kelapa",
    "sct": "sachet",
    "sachets": "sachet",
    "3in1": "3in1",
    "am": "air mineral",
    "tea": "teh",
    "jasmine": "melati",
    "coffee": "kopi",
    "milk": "susu",
}
UNIT_WORDS = frozenset(
    {
        "krt", "karton", "ctn", "carton", "cartons", "dus", "box", "bal", "bale", "pcs",
        "pc", "btl", "botol", "pack", "pak", "qty", "x",
    }
)  # fmt: skip
# "24X200ML", "24 x 200 ml", "12X1L", "20x150g", "50 X 20 GR", "(24)", "200ml", "1 l"
_PACK = re.compile(
    r"\(\s*\d+\s*\)|\b\d+\s*x\s*\d+(?:[.,]\d+)?\s*(?:ml|l|lt|ltr|g|gr|gram|kg)?\b"
    r"|\b\d+(?:[.,]\d+)?\s*(?:ml|l|lt|ltr|g|gr|gram|kg)\b"
)
_THREE_IN_ONE = re.compile(r"\b3\s*(?:in|-in-|in-)\s*1\b")
_NON_WORD = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def normalise_product_text(text: str) -> str:
    """What matching compares: lower case, no pack sizes, units, numbers or punctuation,
    abbreviations expanded (module docstring)."""
    lowered = text.lower()
    lowered = _THREE_IN_ONE.sub(" 3in1 ", lowered)
    lowered = _PACK.sub(" ", lowered)
    words: list[str] = []
    for word in _NON_WORD.sub(" ", lowered).split():
        if word in UNIT_WORDS or word.isdigit():
            continue
        words.extend(ABBREVIATIONS.get(word, word).split())
    return " ".join(words)


# --- matching -------------------------------------------------------------------------


def _texts(product: ProductView) -> set[str]:
    texts = {product.sku, product.sku.split("-")[0], product.name, product.short_name}
    texts.update(product.synonyms)
    return {t for t in (normalise_product_text(x) for x in texts if x) if t}


def text_score(query: str, text: str) -> float:
    """How well normalised words name a normalised text, 0..100 (also rewards' matcher)."""
    if query == text:
        return 100.0
    whole = float(fuzz.token_sort_ratio(query, text))
    subset = float(fuzz.token_set_ratio(query, text))
    # All of one side's words in the other (token_set_ratio 100) is likely, never certain.
    return max(whole, min(subset, SUBSET_SCORE))


def _products(session_or_products: Session | Sequence[ProductView]) -> Sequence[ProductView]:
    if isinstance(session_or_products, Session):
        return list_products(session_or_products)
    return session_or_products


def match_products(
    session_or_products: Session | Sequence[ProductView], text: str, limit: int = 5
) -> list[ProductMatch]:
    """Products that ``text`` may name, best first (score >= ``MIN_SCORE``)."""
    query = normalise_product_text(text)
    if not query:
        return []
    matches = []
    for product in _products(session_or_products):
        score = max((text_score(query, t) for t in _texts(product)), default=0.0)
        if score >= MIN_SCORE:
            matches.append(ProductMatch(product.sku, product.name, round(score, 1)))
    matches.sort(key=lambda m: (-m.score, m.sku))
    return matches[:limit]


def resolve_product(
    session_or_products: Session | Sequence[ProductView], text: str
) -> ProductMatch | list[ProductMatch] | None:
    """One sure match; the candidates (best first) when unsure; None when nothing is close."""
    matches = match_products(session_or_products, text)
    if not matches:
        return None
    best = matches[0]
    runner_up = matches[1].score if len(matches) > 1 else 0.0
    if best.score >= SURE_SCORE and best.score - runner_up >= MARGIN:
        return best
    return matches


def is_ambiguous(resolved: ProductMatch | list[ProductMatch] | None) -> bool:
    return isinstance(resolved, list)
