"""NoiseFilter: a message in which no word is known gets `nlu_fallback`.

A neural intent classifier always picks one of the intents it knows, and for a keyboard
mash ("xqzv wplk", "asdfgh"), laughter ("wkwkwk") or a filler ("hmm") it picks one of
the short intents (affirm, greet, answer_quiz) with a confidence that depends on luck:
sometimes above the FallbackClassifier's threshold, and the bot answers "Oke 👍". This
component runs after DIET and before the FallbackClassifier and looks at the words
instead: when not one word of the message is known, it predicts `nlu_fallback` with
confidence 1.0 (DIET's ranking stays below it, as the FallbackClassifier does), so the
bot offers the menu.

A word is known when it is
  - a token of the training data (every intent, out_of_scope included, and the entity
    synonyms) or of `lexicon.txt` (common Indonesian/English chat words), also after
    squeezing repeated letters ("poinnn"), dropping a suffix or prefix ("poinnya",
    "dikirim") or one typo for longer words ("riwayt", "pion"),
  - or mixes letters and digits ("INV-2024-00123", "12kg", "50rb"), or is a number of
    at most 3 digits ("2" as a quiz answer, "12", "120"; not "123456"),
  - or is a single letter a-j (quiz answers "b", "c").
Laughter, fillers and "test" ("hahaha", "wkwk", "hmm", "tes") are never known, whatever
the training data says; keyboard mashes ("qwerty", "jdjdjd", "aaaa") are known only if
the vocabulary has them as they are. A number typed with such noise ("tes 123") is no
answer either. Emoji count as words when the training data has them ("👍"). Payload
commands ("/menu") are left alone (RegexMessageHandler sets their intent after the
pipeline anyway).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

FALLBACK_INTENT = "nlu_fallback"
LEXICON = Path(__file__).with_name("lexicon.txt")

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SUFFIXES = ("nya", "ny", "kan", "lah", "kah", "ku", "mu", "in", "an", "i", "s", "e")
_PREFIXES = ("meng", "mem", "men", "ber", "ter", "di", "ke", "se", "me", "ng", "nge")
# Laughter, fillers and sighs: never a word, even if some training example has one.
_NOISE_WORD = re.compile(
    r"^(?:a?(?:w+k+|k+w+|wo+k+){2,}[wk]*|wk+|(?:[bg]?w?a?h+a+){2,}h*|(?:h+e+){2,}h*|"
    r"(?:h+i+){2,}h*|(?:x+i+){2,}|(?:e+k+){2,}|(?:k+y+){2,}|h+m+|e+h*m+|u+h*m+|e+h+|"
    r"a+h+|o+h+|u+h+|hu+f+t*|ha+d+e+h+|lol+|lmao+|rofl|xd+|asdf\w*|qwe\w*|zxc\w*|"
    r"te+s+t*|te+s+t+i+n+g+|tst)$"  # "tes", "test", "testing": checking the line works
)
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def _symbols(text: str) -> list[str]:
    """Emoji and other pictographs ("👍", "🙏"): Unicode category So."""
    return [c for c in text if unicodedata.category(c) == "So"]


def _squeeze(word: str, keep: int) -> str:
    return re.sub(r"(.)\1+", lambda m: m.group(1) * min(keep, len(m.group(0))), word)


def _is_mash(word: str) -> bool:
    """One letter repeated, two letters alternating, or one keyboard row."""
    squeezed = _squeeze(word, 1)
    if len(word) >= 3 and len(squeezed) == 1:
        return True
    if len(squeezed) >= 4 and len(set(squeezed)) <= 2:
        return True
    return len(word) >= 5 and any(set(word) <= set(row) for row in _KEYBOARD_ROWS)


def _within_one_edit(a: str, b: str) -> bool:
    """Levenshtein distance <= 1, or one swap of neighbouring letters."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


class Vocabulary:
    def __init__(self, words: Iterable[str], symbols: Iterable[str]) -> None:
        self.words = set(words)
        self.symbols = set(symbols)
        self._by_length: dict[int, list[str]] = {}
        for word in self.words:
            if len(word) >= 4 and word.isalpha():
                self._by_length.setdefault(len(word), []).append(word)

    def _exact(self, word: str) -> bool:
        if word in self.words:
            return True
        squeezed = {_squeeze(word, 2), _squeeze(word, 1)}
        return any(len(w) >= 2 and w in self.words for w in squeezed)

    def _affixed(self, word: str) -> bool:
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                if self._exact(word[: -len(suffix)]):
                    return True
        for prefix in _PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 3:
                rest = word[len(prefix):]
                if self._exact(rest) or any(
                    rest.endswith(s) and len(rest) - len(s) >= 3 and self._exact(rest[: -len(s)])
                    for s in _SUFFIXES
                ):
                    return True
        return False

    def _typo(self, word: str) -> bool:
        if len(word) < 4 or not word.isalpha():
            return False
        if len(word) == 4 and word[:3] in self.words:
            return True  # one letter too many at the end: "okeh", "sipp", "gakk"
        lengths = (len(word),) if len(word) == 4 else (len(word) - 1, len(word), len(word) + 1)
        for length in lengths:
            for known in self._by_length.get(length, ()):
                if known[0] == word[0] or len(word) >= 6:
                    if len(word) == 4:
                        # short words: two swapped letters ("pion" for "poin"), or one
                        # edit after the same two first letters ("mksi" for "mksh")
                        if (sorted(known) == sorted(word) or known[:2] == word[:2]) \
                                and _within_one_edit(known, word):
                            return True
                    elif _within_one_edit(known, word):
                        return True
        return False

    def knows(self, word: str) -> bool:
        word = word.replace("'", "")  # "ho'oh" as "hooh", "assalamu'alaikum"
        if word.isdigit():
            return len(word) <= 3  # "2" (a quiz answer), "12", "120"; not "123456"
        if any(c.isdigit() for c in word):
            return True  # "inv", "12kg", "50rb", "fkt-88213" (split on "-")
        if len(word) == 1:
            return word in "abcdefghij" or word in self.words
        if _NOISE_WORD.match(word):
            return False
        if self._exact(word):
            return True
        if _is_mash(word):
            return False
        return self._affixed(word) or self._typo(word)

    def understands(self, text: str) -> bool:
        words = _words(text)
        known = [word for word in words if self.knows(word)]
        if any(not word.isdigit() for word in known):
            return True
        if known:  # only numbers: an answer ("2", "12"), unless typed with noise ("tes 123")
            return not any(_NOISE_WORD.match(word) for word in words)
        return any(symbol in self.symbols for symbol in _symbols(text))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class NoiseFilter(GraphComponent):
    """Predicts `nlu_fallback` for messages without a single known word."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"use_lexicon": True}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NoiseFilter:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        words: set[str] = set()
        symbols: set[str] = set()
        texts = [m.get(TEXT) or "" for m in training_data.training_examples]
        for synonym, value in training_data.entity_synonyms.items():
            texts += [synonym, value]
        for table in training_data.lookup_tables:
            elements = table.get("elements")
            if isinstance(elements, list):
                texts += [str(e) for e in elements]
        for text in texts:
            words.update(w for w in _words(text) if not _NOISE_WORD.match(w))
            symbols.update(_symbols(text))
        if self._config.get("use_lexicon", True) and LEXICON.exists():
            for line in LEXICON.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0]
                words.update(_words(line))
        self._vocabulary = Vocabulary(words, symbols)
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                directory / "vocabulary.json",
                {"words": sorted(words), "symbols": sorted(symbols)},
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> NoiseFilter:
        try:
            with model_storage.read_from(resource) as directory:
                data = rasa.shared.utils.io.read_json_file(directory / "vocabulary.json")
            vocabulary = Vocabulary(data["words"], data["symbols"])
        except (ValueError, FileNotFoundError, KeyError):
            vocabulary = None  # an untrained filter lets every message through
        return cls(config, model_storage, resource, vocabulary)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._vocabulary is None:
            return messages
        for message in messages:
            text = (message.get(TEXT) or "").strip()
            if text.startswith("/") or self._vocabulary.understands(text):
                continue
            fallback = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, fallback, add_to_output=True)
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                       if r.get(INTENT_NAME_KEY) != FALLBACK_INTENT]
            message.set(INTENT_RANKING_KEY, [dict(fallback), *ranking], add_to_output=True)
        return messages
