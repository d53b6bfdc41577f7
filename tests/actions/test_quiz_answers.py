"""How the bot reads a partner's answer while a question waits: letters, ordinals, the
choice's own words, a number on a scale, and "stop"/"nanti aja"."""

from __future__ import annotations

import pytest

from actions.quiz_answers import choice_label, is_stop, scale_value

CHOICES = [
    {"id": "24 botol 200 ml", "en": "24 bottles of 200 ml"},
    {"id": "12 botol 1 liter", "en": "12 bottles of 1 litre"},
    {"id": "48 botol 250 ml", "en": "48 bottles of 250 ml"},
]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("b", "B"),
        ("B", "B"),
        ("B.", "B"),
        ("b)", "B"),
        (" c ", "C"),
        ("yang kedua", "B"),
        ("yg pertama", "A"),
        ("yang ketiga ya", "C"),
        ("kedua", "B"),
        ("jawaban c", "C"),
        ("Jawaban: C", "C"),
        ("jawabannya a", "A"),
        ("pilih a aja", "A"),
        ("saya pilih b", "B"),
        ("A dong kak", "A"),
        ("opsi B", "B"),
        ("no 3", "C"),
        ("2", "B"),
        ("answer b", "B"),
        ("kayaknya a", "A"),
        ("menurut saya yang kedua", "B"),
        ("i think it's c", "C"),
        ("my answer is c", "C"),
        ("i choose a", "A"),
        ("the first one", "A"),
        ("second", "B"),
        ("12 botol 1 liter", "B"),  # the choice's own words, either language
        ("48 Bottles of 250 ml", "C"),
    ],
)
def test_a_choice_is_read_from_many_wordings(text: str, label: str) -> None:
    assert choice_label(text, CHOICES) == label


@pytest.mark.parametrize(
    "text", ["d", "4", "yang keempat", "abc", "b c", "kuis", "mungkin", "", "24 botol"]
)
def test_anything_else_is_not_an_answer(text: str) -> None:
    assert choice_label(text, CHOICES) is None  # three choices: A-C only


@pytest.mark.parametrize(
    ("text", "value"),
    [("4", 4), ("nilai 5", 5), ("empat", 4), ("4 bintang", 4), ("4/5", 4), ("skala 1", 1),
     ("saya kasih 3", 3), ("i give it a 5", 5), ("6", None), ("0", None), ("lumayan", None)],
)  # fmt: skip
def test_a_scale_value(text: str, value: int | None) -> None:
    assert scale_value(text) == value


@pytest.mark.parametrize(
    ("text", "stop"),
    [("stop", True), ("Stop.", True), ("nanti aja", True), ("nanti dulu ya", True),
     ("berhenti dulu", True), ("stop kuisnya", True), ("lanjut nanti", True), ("later", True),
     ("continue later", True), ("udahan dulu", True), ("stop promo", False), ("b", False),
     ("nanti poinnya masuk kapan", False)],
)  # fmt: skip
def test_stop_and_later_leave_for_now(text: str, stop: bool) -> None:
    assert is_stop(text) is stop
