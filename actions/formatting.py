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
