"""Presentation helpers: numbers, WIB dates and ledger reason labels in both languages.

Only rendering lives here; every figure comes from the backend.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")
SUPPORTED_LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

_MONTHS = {
    "id": ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}

# Ledger reason codes (docs/contracts.md) → what a partner reads.
REASON_LABELS = {
    "claim": {"id": "Klaim penjualan", "en": "Sales claim"},
    "quiz": {"id": "Kuis pelatihan", "en": "Training quiz"},
    "referral": {"id": "Referal", "en": "Referral"},
    "redemption": {"id": "Penukaran hadiah", "en": "Reward redemption"},
    "adjustment": {"id": "Penyesuaian", "en": "Adjustment"},
    "expiry": {"id": "Poin hangus", "en": "Points expired"},
    "welcome_bonus": {"id": "Bonus selamat datang", "en": "Welcome bonus"},
    "campaign_bonus": {"id": "Bonus promo", "en": "Campaign bonus"},
}


def normalise_language(value: object) -> str:
    return value if value in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE  # type: ignore[return-value]


def format_points(value: int, language: str) -> str:
    """``12500`` → ``12.500`` (id) or ``12,500`` (en); negatives keep their sign."""
    text = f"{abs(int(value)):,}"
    if language == "id":
        text = text.replace(",", ".")
    return f"-{text}" if value < 0 else text


def format_signed_points(value: int, language: str) -> str:
    return ("+" if value > 0 else "") + format_points(value, language)


def parse_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_wib(value: str | datetime) -> datetime:
    moment = parse_datetime(value) if isinstance(value, str) else value
    return moment.astimezone(WIB)


def format_date(value: str | datetime | date, language: str) -> str:
    """A date as partners read it: ``25 Des 2026`` / ``25 Dec 2026`` (WIB)."""
    day = value if isinstance(value, date) and not isinstance(value, datetime) else to_wib(value)
    return f"{day.day} {_MONTHS[language][day.month - 1]} {day.year}"


def format_datetime(value: str | datetime, language: str) -> str:
    moment = to_wib(value)
    return f"{format_date(moment, language)} {moment:%H:%M}"


def reason_label(entry: dict, language: str) -> str:
    label = REASON_LABELS.get(entry.get("reason", ""), {}).get(language)
    if label is None:
        label = entry.get("reason", "").replace("_", " ").capitalize()
    reference = entry.get("reference_id")
    if entry.get("reason") in {"claim", "redemption"} and reference:
        label = f"{label} {reference}"
    return label


def month_start_wib(now: datetime | None = None) -> date:
    """First day of the current month in WIB."""
    current = (now or datetime.now(timezone.utc)).astimezone(WIB)
    return current.date().replace(day=1)


# Claim statuses and kinds (docs/contracts.md, claim object) → what a partner reads.
CLAIM_STATUS_LABELS = {
    "approved": {"id": "✅ Disetujui", "en": "✅ Approved"},
    "pending_review": {"id": "🕐 Sedang ditinjau", "en": "🕐 Under review"},
    "rejected": {"id": "❌ Ditolak", "en": "❌ Rejected"},
}
CLAIM_KIND_LABELS = {
    "sales": {"id": "Penjualan", "en": "Sales"},
    "display": {"id": "Foto display", "en": "Display photo"},
}


def claim_status_label(status: str, language: str) -> str:
    return CLAIM_STATUS_LABELS.get(status, {}).get(language) or status.replace("_", " ")


def claim_kind_label(kind: str, language: str) -> str:
    return CLAIM_KIND_LABELS.get(kind, {}).get(language) or kind


def localised(text: object, language: str) -> str:
    """A backend text given in both languages (``{"id": …, "en": …}``) in ``language``."""
    if isinstance(text, dict):
        return str(text.get(language) or text.get(DEFAULT_LANGUAGE) or "")
    return str(text or "")


def format_day_month(value: str | date, language: str) -> str:
    """A date this year as partners say it: ``31 Des`` / ``31 Dec`` (WIB)."""
    day = value if isinstance(value, date) and not isinstance(value, datetime) else to_wib(value)
    return f"{day.day} {_MONTHS[language][day.month - 1]}"


# Words on the rows of the reward lists and in redemption lines (docs/designers.md
# "The rewards flow"); every sentence around them is a response in the domain.
REWARD_LABELS = {
    "points": {"id": "poin", "en": "points"},
    "can_redeem": {"id": "✅ bisa ditukar", "en": "✅ you can redeem"},
    "points_short": {"id": "kurang {points} poin", "en": "{points} points short"},
    "out_of_stock": {"id": "stok habis", "en": "out of stock"},
    "more_title": {"id": "Lainnya", "en": "More"},
    "more_description": {"id": "Hadiah berikutnya ({first}–{last} dari {total})",
                         "en": "Next rewards ({first}–{last} of {total})"},
    "section_more": {"id": "Lainnya", "en": "More"},
    "section_alternatives": {"id": "Bisa ditukar sekarang", "en": "You can redeem now"},
    "section_earn": {"id": "Tambah poin", "en": "Earn points"},
    "earn_claim": {"id": "📸 Kirim klaim penjualan", "en": "📸 Send a sales claim"},
    "earn_claim_short": {"id": "📸 Kirim klaim", "en": "📸 Send a claim"},
    "earn_claim_description": {"id": "Foto faktur → poin", "en": "Invoice photo → points"},
    "catalogue": {"id": "🎁 Katalog hadiah", "en": "🎁 Rewards catalogue"},
    "voucher_code": {"id": "Kode", "en": "Code"},
    "valid_until": {"id": "berlaku s.d.", "en": "valid until"},
    "tracking": {"id": "resi", "en": "tracking"},
    "refunded": {"id": "poin dikembalikan", "en": "points refunded"},
    "shipping_to": {"id": "dikirim ke", "en": "shipping to"},
}
REDEMPTION_STATUS_ICONS = {
    "requested": "🕐", "fulfilled": "✅", "shipped": "🚚", "delivered": "📦", "cancelled": "↩️",
}


def reward_label(key: str, language: str, **values: object) -> str:
    text = REWARD_LABELS[key].get(language) or REWARD_LABELS[key][DEFAULT_LANGUAGE]
    return text.format(**values) if values else text
