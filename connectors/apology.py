"""What a partner reads when the bot could not handle their message after every retry.

Transport-level wording, like the "Lainnya / More" row of a long list: it is about the
channel failing, not about the loyalty programme, so it lives with the connector.
Indonesian is the default; English when the conversation's ``language`` slot says so.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANGUAGE = "id"
LANGUAGE_SLOT = "language"

APOLOGY: Mapping[str, str] = {
    "id": (
        "Maaf, pesan Anda belum bisa kami proses karena ada gangguan di sistem kami. "
        "Mohon kirim ulang pesannya beberapa saat lagi."
    ),
    "en": (
        "Sorry, we could not process your message because of a problem on our side. "
        "Please send it again in a moment."
    ),
}


def language_of(slot_value: object) -> str:
    """The apology language for a ``language`` slot value (anything unknown → Indonesian)."""
    if isinstance(slot_value, str) and slot_value.strip().lower() in APOLOGY:
        return slot_value.strip().lower()
    return DEFAULT_LANGUAGE


def apology_text(language: str | None) -> str:
    return APOLOGY[language_of(language)]
