"""What a partner's message means while a quiz or survey question waits: which choice
("b", "B.", "yang kedua", "jawaban c", "the first one", the choice's own words), which
number on a 1-5 scale ("4", "empat", "nilai 5"), or "let me stop" ("stop", "nanti aja").

Pure functions over text: understanding the partner's words is the bot's job; whether
the answer is right, and what it earns, is the backend's (it gets the label).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

LABELS = "ABCDEFGHIJ"

# Words before the letter or number: "jawaban c", "pilih b", "my answer is a".
_LEAD = (
    r"(?:(?:jawaban(?:nya)?|jawab(?:annya)?|jwb|pilihan(?:nya| saya| aku| sy)?|pilih|"
    r"sy pilih|saya pilih|aku pilih|gue pilih|opsi|option|answer|choice|my answer is|"
    r"i choose|i pick|i'?ll go with|i say|it'?s|its|huruf|letter|nomor|no\.?|number|"
    r"nilai|skala|score|rating|angka|kasih|saya kasih|aku kasih|i give(?: it)?(?: a)?|"
    r"i'?d give(?: it)?(?: a)?|"
    r"kayaknya|sepertinya|menurut (?:saya|sy|aku)|i think(?: it'?s)?|i'?d say|"
    r"yang|yg)\s*)*"
)
# Polite endings: "b aja", "c dong kak", "a please".
_TAIL = r"(?:\s*(?:aja|saja|ya|yah|deh|dong|kak|min|gan|sis|bos|please|pls|thanks|ok|oke))*"
_LETTER = re.compile(rf"^{_LEAD}([a-j]){_TAIL}$")
_NUMBER = re.compile(rf"^{_LEAD}(\d{{1,2}}){_TAIL}$")
_ORDINAL_WORDS = {
    "pertama": 1, "kesatu": 1, "satu": 1, "first": 1, "1st": 1, "one": 1,
    "kedua": 2, "dua": 2, "second": 2, "2nd": 2, "two": 2,
    "ketiga": 3, "tiga": 3, "third": 3, "3rd": 3, "three": 3,
    "keempat": 4, "empat": 4, "fourth": 4, "4th": 4, "four": 4,
    "kelima": 5, "lima": 5, "fifth": 5, "5th": 5, "five": 5,
}  # fmt: skip
_ORDINAL = re.compile(
    rf"^{_LEAD}(?:the\s+)?({'|'.join(sorted(_ORDINAL_WORDS, key=len, reverse=True))})"
    rf"(?:\s+(?:one|option|choice|answer|jawaban|pilihan))?{_TAIL}$"
)
_STOP = re.compile(
    r"^(?:(?:stop|berhenti|udahan|udah(?:an)?\s+dulu|cukup|keluar|exit|quit|pause|later|"
    r"nanti(?:\s+(?:aja|saja|dulu|lagi|ya))*|lanjut(?:in)?\s+nanti|nanti\s+lanjut|"
    r"besok\s+aja|skip\s+dulu|not\s+now|continue\s+later|another\s+time|maybe\s+later)"
    r"(?:\s+(?:dulu|ya|dong|deh|kak|min|aja|saja|please|pls|for\s+now|now|the|"
    r"kuis(?:nya)?|quiz|survei(?:nya)?|survey|training|soal(?:nya)?))*)$"
)


def normalise(text: str) -> str:
    """Lower case, accents and emoji gone, punctuation to spaces, one space between words."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    folded = re.sub(r"[^\w'\s]", " ", folded.lower())
    return " ".join(folded.split())


def is_stop(text: str) -> bool:
    """"stop", "nanti aja", "berhenti dulu", "later": the partner leaves for now."""
    return bool(_STOP.match(normalise(text)))


def choice_label(text: str, choices: Sequence[dict[str, str]]) -> str | None:
    """The label of the choice the text names, or None.

    ``choices`` are the choice texts in the order shown (``{"id", "en"}`` each): "b",
    "B.", "jawaban c", "yang kedua", "2", "the first one", or a choice's own words.
    """
    count = len(choices)
    words = normalise(text)
    if not words or not count:
        return None
    letter = _LETTER.match(words)
    if letter:
        position = LABELS.index(letter.group(1).upper())
        return LABELS[position] if position < count else None
    number = _NUMBER.match(words) or _ORDINAL.match(words)
    if number:
        value = number.group(1)
        position = (int(value) if value.isdigit() else _ORDINAL_WORDS[value]) - 1
        return LABELS[position] if 0 <= position < count else None
    for position, choice in enumerate(choices):
        if any(words == normalise(str(choice.get(lang) or "")) for lang in ("id", "en")):
            return LABELS[position]
    return None


def scale_value(text: str, low: int = 1, high: int = 5) -> int | None:
    """A number on the scale: "4", "nilai 5", "empat", "4 bintang"; else None."""
    words = normalise(re.sub(r"(\d)\s*/\s*\d+\s*$", r"\1", text.strip()))
    words = re.sub(r"\s*(?:bintang|stars?|dari 5|of 5|out of 5)$", "", words)
    number = _NUMBER.match(words) or _ORDINAL.match(words)
    if not number:
        return None
    value = number.group(1)
    result = int(value) if value.isdigit() else _ORDINAL_WORDS[value]
    return result if low <= result <= high else None
