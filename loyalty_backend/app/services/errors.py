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


# --- claims (app/services/claims.py, claim_images.py) ---------------------------------


class ClaimNotFound(DomainError):
    detail = "claim not found"


class ClaimImageNotFound(DomainError):
    detail = "claim image not found"


class InvalidClaim(DomainError):
    """The claim cannot be judged as sent (unknown SKU, no lines, unknown image...)."""

    detail = "invalid claim"


class DuplicateClaim(DomainError):
    """Refused: the invoice (or the very same photo) is already used by another claim.

    ``code`` is ``duplicate_invoice`` or ``duplicate_photo``; ``claim_no`` names the
    earlier claim when it is the same partner's (another partner's stays private).
    """

    detail = "already claimed"

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        claim_no: str | None = None,
        earlier_claim_no: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.claim_no = claim_no
        self.earlier_claim_no = earlier_claim_no or claim_no  # for the audit, never shown

    @property
    def fields(self) -> dict[str, str]:
        found = {"code": self.code}
        if self.claim_no:
            found["claim_no"] = self.claim_no
        return found


class ClaimAlreadyDecided(DomainError):
    detail = "claim already decided"


class ImageTooLarge(DomainError):
    detail = "file too large: at most 10 MB"


class UnsupportedImageType(DomainError):
    detail = "unsupported file type: send a JPEG, PNG or PDF"


class UnreadableImage(DomainError):
    detail = "the file could not be read as an image"


# --- rewards and redemptions (app/services/rewards.py, vouchers.py, redemptions.py) -------


class RewardNotFound(DomainError):
    detail = "reward not found"


class RedemptionNotFound(DomainError):
    detail = "redemption not found"


class InvalidReward(DomainError):
    """A reward definition or a voucher import the backend cannot take (422)."""

    detail = "invalid reward"


class RedemptionRefused(DomainError):
    """A redemption the rules refuse (409).

    ``code`` is ``insufficient_points``, ``out_of_stock``, ``not_eligible``,
    ``limit_reached`` or ``address_required``; ``description`` says why in both
    languages, for the partner; ``points_short`` (insufficient points only) is how many
    points are missing.
    """

    detail = "redemption refused"

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        description: dict[str, str] | None = None,
        points_short: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.description = description
        self.points_short = points_short

    @property
    def fields(self) -> dict[str, object]:
        found: dict[str, object] = {"code": self.code}
        if self.points_short is not None:
            found["points_short"] = self.points_short
        if self.description is not None:
            found["description"] = dict(self.description)
        return found


class RedemptionKeyConflict(IdempotencyConflict):
    """The redemption's idempotency key was used for another partner or reward (409)."""

    detail = "idempotency key already used for a different redemption"

    @property
    def fields(self) -> dict[str, str]:
        return {"code": "idempotency_conflict"}


class InvalidTransition(DomainError):
    """A status change the redemption's kind and status do not allow (409)."""

    detail = "status change not allowed"

    @property
    def fields(self) -> dict[str, str]:
        return {"code": "invalid_transition"}


class InvalidRedemption(DomainError):
    """A redemption request or fulfilment update the backend cannot take as sent (422)."""

    detail = "invalid redemption request"
