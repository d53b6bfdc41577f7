"""Who may call the API: five callers, each with its own secret and its own scopes.

| caller      | secret (env)              | scopes                                  |
|-------------|---------------------------|-----------------------------------------|
| ``service`` | ``SERVICE_TOKEN``         | ``partner:read``, ``ledger:read``,         |
|             |                           | ``partner:act``                           |
| ``erp``     | ``ERP_API_KEY``           | ``partner:read``, ``ledger:read``,         |
|             |                           | ``sales:write``, ``redemptions:read``      |
| ``admin``   | ``ADMIN_API_KEY``         | ``points:adjust``, ``partner:manage``,     |
|             |                           | ``claims:review``, ``rewards:manage``,     |
|             |                           | ``redemptions:read``, ``quizzes:read``,    |
|             |                           | ``notifications:read``                    |
| ``payouts`` | ``PAYOUT_CALLBACK_TOKEN`` | ``payouts:callback``                      |
| ``whatsapp``| ``WHATSAPP_REPORT_TOKEN`` | ``notifications:report``                  |

The action server (``service``) acts for partners: it reads a partner and performs what
the partner asked for (set the language, claim, redeem a reward). It never mints or
adjusts points: raw earn/spend are ``points:adjust``, the admin's. The payout provider
(``payouts``) may only report how a payout ended; the WhatsApp connector (``whatsapp``)
may only report how the program's notices were sent and delivered. The caller's name is
the audit actor.

A presented token is compared in constant time (``hmac.compare_digest`` over SHA-256
digests, so lengths do not leak either) against every configured secret, always all of
them. A caller whose secret is not configured cannot authenticate at all.
"""

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

from app.core.config import Settings


class Scope(StrEnum):
    PARTNER_READ = "partner:read"  # profile, tier, the program's tiers
    LEDGER_READ = "ledger:read"  # balance, history, expiring points
    PARTNER_ACT = "partner:act"  # partner-initiated operations (language; claim, redeem...)
    SALES_WRITE = "sales:write"  # push ERP sales lines
    POINTS_ADJUST = "points:adjust"  # raw earn/spend: admin adjustments
    PARTNER_MANAGE = "partner:manage"  # a partner's status (active, suspended, left)
    CLAIMS_REVIEW = "claims:review"  # list claims awaiting review, approve or reject them
    REWARDS_MANAGE = "rewards:manage"  # rewards, voucher pools, redemptions' fulfilment
    REDEMPTIONS_READ = "redemptions:read"  # the redemption feed (ERP, admin)
    PAYOUTS_CALLBACK = "payouts:callback"  # the payout provider reports a payout's outcome
    QUIZZES_READ = "quizzes:read"  # quiz attempts, survey answers and their summaries
    NOTIFICATIONS_READ = "notifications:read"  # the notices sent, failed and why (admin)
    NOTIFICATIONS_REPORT = "notifications:report"  # the connector reports sends and statuses


@dataclass(frozen=True)
class Caller:
    name: str  # also the audit actor
    secret_var: str
    scopes: frozenset[Scope]


CALLERS = (
    Caller(
        "service",
        "SERVICE_TOKEN",
        frozenset({Scope.PARTNER_READ, Scope.LEDGER_READ, Scope.PARTNER_ACT}),
    ),
    Caller(
        "erp",
        "ERP_API_KEY",
        frozenset(
            {Scope.PARTNER_READ, Scope.LEDGER_READ, Scope.SALES_WRITE, Scope.REDEMPTIONS_READ}
        ),
    ),
    Caller(
        "admin",
        "ADMIN_API_KEY",
        frozenset(
            {
                Scope.POINTS_ADJUST,
                Scope.PARTNER_MANAGE,
                Scope.CLAIMS_REVIEW,
                Scope.REWARDS_MANAGE,
                Scope.REDEMPTIONS_READ,
                Scope.QUIZZES_READ,
                Scope.NOTIFICATIONS_READ,
            }
        ),
    ),
    Caller("payouts", "PAYOUT_CALLBACK_TOKEN", frozenset({Scope.PAYOUTS_CALLBACK})),
    Caller("whatsapp", "WHATSAPP_REPORT_TOKEN", frozenset({Scope.NOTIFICATIONS_REPORT})),
)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def token_matches(presented: str | None, expected: str | None) -> bool:
    """Constant-time comparison; nothing matches a missing or empty secret."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(_digest(presented), _digest(expected))


def authenticate(presented: str | None, settings: Settings) -> Principal | None:
    """The caller whose secret is ``presented``, or None. Compares against every secret."""
    found: Principal | None = None
    for caller in CALLERS:
        # No early exit: the time taken does not say which secret (if any) matched.
        if token_matches(presented, settings.credential(caller.secret_var)):
            found = Principal(caller.name, caller.scopes)
    return found
