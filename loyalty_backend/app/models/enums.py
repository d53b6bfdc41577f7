"""Closed vocabularies shared by models, schemas and services."""

from enum import StrEnum


class PartnerRole(StrEnum):
    DISTRIBUTOR = "distributor"
    WHOLESALER = "wholesaler"
    RETAILER = "retailer"
    FIELD_SELLER = "field_seller"


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"


class Language(StrEnum):
    ID = "id"
    EN = "en"


class LedgerReason(StrEnum):
    CLAIM = "claim"
    QUIZ = "quiz"
    REFERRAL = "referral"
    REDEMPTION = "redemption"
    ADJUSTMENT = "adjustment"
    EXPIRY = "expiry"
    WELCOME_BONUS = "welcome_bonus"
    CAMPAIGN_BONUS = "campaign_bonus"
    REFUND = "refund"  # points of a cancelled redemption, given back (a new lot)


# Reasons that add points, and that take them away. "expiry" is the ledger's own;
# "adjustment" goes both ways (an admin correction); "refund" is written only by the
# redemptions service (key namespace ``refund:``), never accepted from an API caller.
EARN_REASONS = frozenset(
    {
        LedgerReason.CLAIM,
        LedgerReason.QUIZ,
        LedgerReason.REFERRAL,
        LedgerReason.ADJUSTMENT,
        LedgerReason.WELCOME_BONUS,
        LedgerReason.CAMPAIGN_BONUS,
        LedgerReason.REFUND,
    }
)
SPEND_REASONS = frozenset({LedgerReason.REDEMPTION, LedgerReason.ADJUSTMENT})


def sql_in(values: type[StrEnum] | frozenset[StrEnum]) -> str:
    """``'a', 'b'`` for a CHECK constraint's IN list."""
    return ", ".join(f"'{v.value}'" for v in sorted(values, key=lambda v: v.value))
