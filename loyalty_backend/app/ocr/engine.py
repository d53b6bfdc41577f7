"""Tesseract, once per page: words with their boxes and confidences, grouped into rows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from statistics import median

import numpy as np

# One thread per Tesseract process: on a two-core machine several requests at once
# then share the cores predictably instead of oversubscribing them with OpenMP.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pytesseract  # reads the environment above whenever it runs tesseract

LANG = "ind+eng"
# psm 6: one uniform block of text. Invoices are rows across the page (a table row is
# one line from the code to the total), which is what the parser wants.
CONFIG = "--oem 1 --psm 6 -c preserve_interword_spaces=0"


@dataclass(frozen=True)
class Word:
    text: str
    conf: float  # 0..100
    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def cx(self) -> float:
        return self.left + self.width / 2

    @property
    def cy(self) -> float:
        return self.top + self.height / 2


@dataclass
class Row:
    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def top(self) -> int:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> int:
        return max(w.bottom for w in self.words)

    @property
    def height(self) -> float:
        return median(w.height for w in self.words)

    @property
    def conf(self) -> float:
        return sum(w.conf for w in self.words) / len(self.words)


def tesseract_available() -> bool:
    try:
        return LANG.split("+")[0] in pytesseract.get_languages(config="")
    except (pytesseract.TesseractNotFoundError, OSError):
        return False


def read_words(image: np.ndarray, *, lang: str = LANG, config: str = CONFIG) -> list[Row]:
    """Run Tesseract on ``image``; its lines as rows of words, top to bottom."""
    data = pytesseract.image_to_data(
        image, lang=lang, config=config, output_type=pytesseract.Output.DICT
    )
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for i, text in enumerate(data["text"]):
        text = text.strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(
            Word(text, conf, data["left"][i], data["top"][i], data["width"][i], data["height"][i])
        )
    rows = [Row(sorted(words, key=lambda w: w.left)) for words in lines.values()]
    return merge_rows(rows)


def merge_rows(rows: list[Row]) -> list[Row]:
    """Top-to-bottom rows; lines Tesseract split side by side (blocks) become one row."""
    rows = sorted(rows, key=lambda r: (r.top + r.bottom) / 2)
    merged: list[Row] = []
    for row in rows:
        if merged:
            last = merged[-1]
            overlap = min(last.bottom, row.bottom) - max(last.top, row.top)
            side_by_side = all(w.left >= last.words[-1].right - 2 for w in row.words) or all(
                w.right <= last.words[0].left + 2 for w in row.words
            )
            if side_by_side and overlap > 0.6 * min(last.bottom - last.top, row.bottom - row.top):
                last.words = sorted(last.words + row.words, key=lambda w: w.left)
                continue
        merged.append(row)
    return merged
