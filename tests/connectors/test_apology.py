"""The apology after a message could not be handled: both languages, Indonesian default."""

from __future__ import annotations

import pytest

from connectors.apology import APOLOGY, apology_text, language_of


def test_both_languages_exist_and_differ() -> None:
    assert set(APOLOGY) == {"id", "en"}
    assert APOLOGY["id"] != APOLOGY["en"]
    assert "Maaf" in APOLOGY["id"] and "Sorry" in APOLOGY["en"]
    assert all(len(text) <= 4096 for text in APOLOGY.values())


@pytest.mark.parametrize(
    ("slot", "language"),
    [("en", "en"), ("EN ", "en"), ("id", "id"), (None, "id"), ("fr", "id"), (3, "id")],
)
def test_language_of_the_slot(slot: object, language: str) -> None:
    assert language_of(slot) == language
    assert apology_text(slot if isinstance(slot, str) else None) == APOLOGY[language]
