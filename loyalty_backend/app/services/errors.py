"""Domain errors. The API maps each to an HTTP status (see app/api/errors.py)."""


class DomainError(Exception):
    """Base class; ``detail`` is safe to show to the caller."""

    detail = "domain error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        if detail:
            self.detail = detail


class PartnerNotFound(DomainError):
    detail = "partner not found"


class PartnerSuspended(DomainError):
    """The partner is suspended: reads still work, writes are refused."""

    detail = "partner suspended"


class PartnerLeft(DomainError):
    """The partner has left the program: no longer served as a partner, reads included."""

    detail = "partner has left"


class ReservedIdempotencyKey(DomainError):
    """A caller's idempotency key is in a namespace the backend keeps for its own rules."""

    detail = "idempotency key prefix reserved for the backend"


class InsufficientPoints(DomainError):
    detail = "insufficient points"


class IdempotencyConflict(DomainError):
    """The key was already used for a different request (other partner, amount or reason)."""

    detail = "idempotency key already used for a different request"


class LedgerInvariantBroken(DomainError):
    """Balance and lots disagree. Never expected; the transaction is rolled back."""

    detail = "ledger invariant broken"


class TiersNotConfigured(DomainError):
    detail = "no tiers configured (run python -m app.initial_data)"
