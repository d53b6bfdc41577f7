"""Paying out e-wallet/pulsa and cashback redemptions: the payout provider interface.

The redemptions service asks the provider named by ``PAYOUT_PROVIDER`` to pay a
redemption out, after the redemption (and the spend of its points) has committed. The
provider answers with a ``PayoutResult``:

- ``succeeded``: paid; the redemption becomes ``fulfilled`` (``provider_ref`` kept);
- ``pending``: accepted, the outcome comes later through the provider's callback
  (``POST /api/v1/integrations/payouts/<provider>/callback``), matched by
  ``provider_ref``; the redemption stays ``requested``;
- ``failed``: refused; the redemption is cancelled and its points refunded, with
  ``reason`` as the note.

A provider that raises (down, timeout) leaves the redemption ``requested`` without a
``payout_ref``; ``python -m app.jobs.retry_payouts`` asks again later. A provider must
therefore treat ``redemption.redemption_no`` as its idempotency key: asking twice for
one redemption pays it once and answers with the first outcome.

A real provider plugs in by name: implement ``PayoutProvider`` and add a factory to
``PROVIDERS`` (or call ``register_provider``); set ``PAYOUT_PROVIDER`` to that name.
``fake`` is the development and test provider; ``PAYOUT_FAKE_MODE`` says how it answers.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from app.core.config import settings
from app.models import Partner, Redemption

PayoutStatus = Literal["succeeded", "pending", "failed"]


@dataclass(frozen=True)
class PayoutResult:
    status: PayoutStatus
    provider_ref: str | None = None  # required for "pending": the callback names it
    reason: str | None = None  # why it failed (shown to the partner as the note)


class PayoutProvider(Protocol):
    name: str

    def request_payout(self, redemption: Redemption, partner: Partner) -> PayoutResult:
        """Pay ``redemption`` (its reward says how much) to ``partner``; idempotent per
        ``redemption.redemption_no`` (module docstring). May raise: the payout is then
        retried later."""
        ...


class FakePayoutProvider:
    """Development and tests: no money moves. ``mode`` (``PAYOUT_FAKE_MODE``):

    - ``instant``: succeeded at once;
    - ``async``: pending; settle it with ``POST /integrations/payouts/fake/callback``;
    - ``fail``: failed (the redemption is cancelled and refunded).

    The reference is ``FAKE-<redemption_no>``, so asking twice gives the same answer.
    """

    name = "fake"

    def __init__(self, mode: str = "instant") -> None:
        if mode not in ("instant", "async", "fail"):
            raise ValueError(f"unknown fake payout mode {mode!r}")
        self.mode = mode

    def request_payout(self, redemption: Redemption, partner: Partner) -> PayoutResult:
        ref = f"FAKE-{redemption.redemption_no}"
        if self.mode == "instant":
            return PayoutResult("succeeded", ref)
        if self.mode == "async":
            return PayoutResult("pending", ref)
        return PayoutResult("failed", ref, "the fake payout provider is set to fail")


PROVIDERS: dict[str, Callable[[], PayoutProvider]] = {
    "fake": lambda: FakePayoutProvider(settings.PAYOUT_FAKE_MODE),
}


def register_provider(name: str, factory: Callable[[], PayoutProvider]) -> None:
    """Make a provider available as ``PAYOUT_PROVIDER=<name>``."""
    PROVIDERS[name] = factory


def get_provider(name: str | None = None) -> PayoutProvider:
    """The configured provider (``PAYOUT_PROVIDER``), built from the current settings."""
    name = name or settings.PAYOUT_PROVIDER
    factory = PROVIDERS.get(name)
    if factory is None:
        raise LookupError(f"unknown payout provider {name!r} (known: {', '.join(PROVIDERS)})")
    return factory()
