"""Which catalogue product an invoice row names, as distributors print it.

Distributors abbreviate ("KOPSUS GL AREN", "TEH MLT", "BISK KLP"), add pack sizes
("24X200ML", "(24)") and OCR adds its own errors. A row is compared word by word with
each product's vocabulary (its name and synonyms): a word matches exactly, as a prefix
("BISK" -> BISKUIT), as an abbreviation keeping the first letter and the order ("MLT"
-> MELATI) or within a small edit distance (OCR). Words shared by several products
(KOPI, SUSU) weigh less than words only one product has (AREN, MELATI). The score is
the F-measure of how much of the row the product explains and how much of the
product the row shows; unknown words (another brand's "GULA PASIR") lower it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import Levenshtein

# Packaging and units say nothing about which product it is.
NOISE_WORDS = {
    "X",
    "ML",
    "L",
    "LT",
    "LTR",
    "G",
    "GR",
    "GRAM",
    "KG",
    "ISI",
    "PCS",
    "PC",
    "BTL",
    "BOTOL",
    "KRT",
    "KTN",
    "CTN",
    "KARTON",
    "DUS",
    "DS",
    "BAL",
    "BL",
    "BOX",
    "PAK",
    "PACK",
    "PAX",
    "RTD",
    "IN",
    "S",
    "RP",
    "NO",
    "@",
    "THE",
    "DAN",
    "&",
    "PET",
    "KALENG",
    "CAN",
    "SCT",
    "RENTENG",
}
MIN_SCORE = 0.6


@dataclass(frozen=True)
class CatalogueEntry:
    sku: str
    name: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProductGuess:
    sku: str
    score: float  # 0..1
    runner_up: float  # the next product's score


def entries_from(products: Iterable[Any]) -> list[CatalogueEntry]:
    """CatalogueEntry from ProductView-like objects, dicts or (sku, name, synonyms) tuples."""
    out = []
    for p in products:
        if isinstance(p, CatalogueEntry):
            out.append(p)
        elif isinstance(p, dict):
            out.append(CatalogueEntry(p["sku"], p["name"], tuple(p.get("synonyms") or ())))
        elif isinstance(p, tuple | list):
            out.append(CatalogueEntry(p[0], p[1], tuple(p[2]) if len(p) > 2 else ()))
        else:
            out.append(CatalogueEntry(p.sku, p.name, tuple(getattr(p, "synonyms", ()) or ())))
    return out


def words(text: str) -> list[str]:
    """Upper-case words of a product text, pack sizes and numbers left out."""
    text = text.upper()
    text = re.sub(r"\b3\s*IN\s*[1lI]\b", "3IN1", text)
    text = re.sub(r"[^A-Z0-9]+", " ", text)
    out = []
    for w in text.split():
        if w == "3IN1":
            out.append(w)
            continue
        letters = sum(c.isalpha() for c in w)
        if letters < 0.6 * len(w):
            continue  # numbers, sizes like 24X200ML, codes
        w = w.translate(str.maketrans("0158", "OISB"))
        if len(w) < 2 or w in NOISE_WORDS:
            continue
        out.append(w)
    return out


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


def similarity(word: str, vocab: str) -> float:
    if word == vocab:
        return 1.0
    if len(word) >= 3 and vocab.startswith(word):
        return 0.9
    if word[0] == vocab[0] and len(word) < len(vocab) and _subsequence(word, vocab):
        return 0.85 if len(word) >= 3 else 0.6
    sim = Levenshtein.normalized_similarity(word, vocab)
    return sim if sim >= 0.7 and min(len(word), len(vocab)) >= 4 else 0.0


class Matcher:
    """Scores rows of an invoice against a catalogue; build once per catalogue."""

    def __init__(self, products: Iterable[Any]) -> None:
        self.entries = entries_from(products)
        self.variants: dict[str, list[list[str]]] = {}
        df: dict[str, int] = {}
        for e in self.entries:
            forms = [words(e.name)] + [words(s) for s in e.synonyms]
            forms = [f for f in forms if f]
            self.variants[e.sku] = forms
            for w in {w for f in forms for w in f}:
                df[w] = df.get(w, 0) + 1
        self.weight = {w: 1.0 / n for w, n in df.items()}
        self.vocab = {sku: {w for f in forms for w in f} for sku, forms in self.variants.items()}
        self._sku_keys = {re.sub(r"[^A-Z0-9]", "", e.sku.upper()): e.sku for e in self.entries}

    def _best(self, word: str, vocab: Iterable[str]) -> tuple[float, str | None]:
        best, best_v = 0.0, None
        for v in vocab:
            s = similarity(word, v)
            if s > best:
                best, best_v = s, v
        return best, best_v

    def knows(self, text: str) -> bool:
        """Whether ``text`` holds a word of some product's vocabulary."""
        return any(self._best(w, self.weight)[0] >= 0.6 for w in words(text))

    def sku_in(self, text: str) -> str | None:
        """A catalogue SKU printed as the item code ("KSGA-24")."""
        for token in re.findall(r"[A-Z0-9]+(?:-[A-Z0-9]+)?", text.upper()):
            key = token.replace("-", "")
            if key in self._sku_keys and len(key) >= 5:
                return self._sku_keys[key]
        return None

    def guess(self, text: str) -> ProductGuess | None:
        row = words(text)
        if not row:
            return None
        # how strongly each row word is known at all, and its weight
        known = []
        for w in row:
            s, v = self._best(w, self.weight)
            known.append((s, self.weight[v] if v else 1.0))
        scores: dict[str, float] = {}
        for sku, forms in self.variants.items():
            vocab = self.vocab[sku]
            explained = total = 0.0
            for w, (s_any, w_any) in zip(row, known, strict=True):
                if s_any < 0.6:
                    total += 1.0  # an unknown word: another product's
                    continue
                s, v = self._best(w, vocab)
                total += w_any
                if v and s >= 0.6:
                    explained += s * self.weight[v]
            precision = explained / total if total else 0.0
            recall = 0.0
            for form in forms:
                got = sum(self.weight[v] * max(similarity(w, v) for w in row) for v in form)
                need = sum(self.weight[v] for v in form)
                recall = max(recall, got / need)
            scores[sku] = 2 * precision * recall / (precision + recall) if precision + recall else 0
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        if not ranked or ranked[0][1] <= 0:
            return None
        sku = ranked[0][0]
        # evidence, not coincidence: one word of 3+ letters that is (nearly) the
        # product's own ("te" or "Sa" read from a smudge is not Teh or Sachet)
        if not any(len(w) >= 3 and self._best(w, self.vocab[sku])[0] >= 0.85 for w in row):
            return None
        runner = ranked[1][1] if len(ranked) > 1 else 0.0
        return ProductGuess(sku, ranked[0][1], runner)
