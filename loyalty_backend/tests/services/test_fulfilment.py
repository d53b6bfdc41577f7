"""Payouts of e-wallet and cashback redemptions: the fake provider's modes, callbacks,
a refused payout's refund, and a provider that is down (retried later)."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import settings
from app.jobs import retry_payouts
from app.models import AuditLog, LedgerEntry, Partner, Redemption
from app.services import fulfilment, redemptions
from app.services.errors import InvalidTransition, RedemptionNotFound
from app.services.fulfilment import FakePayoutProvider, PayoutResult
from tests.rewards_utils import funded_partner, make_reward, redeem
from tests.utils import assert_ledger_consistent


@pytest.fixture(autouse=True)
def pulsa(session: Session) -> None:
    make_reward(session, "TEST-PULSA", "ewallet", 500)


def _mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setattr(settings, "PAYOUT_FAKE_MODE", mode)


class DownProvider:
    """A provider that is unreachable."""

    name = "down"

    def __init__(self) -> None:
        self.calls = 0

    def request_payout(self, redemption: Redemption, partner: Partner) -> PayoutResult:
        self.calls += 1
        raise ConnectionError("provider unreachable")


def test_instant_payout_fulfils_at_once(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _mode(monkeypatch, "instant")
    partner = funded_partner(session, 1000)
    redemption = redeem(session, partner, "TEST-PULSA").redemption
    assert redemption.status == "fulfilled"
    assert redemption.payout_ref == f"FAKE-{redemption.redemption_no}"
    outcome = session.scalars(select(AuditLog).where(AuditLog.action == "redemption.payout")).one()
    assert outcome.details["outcome"] == "succeeded" and outcome.details["provider"] == "fake"
    assert assert_ledger_consistent(session, partner.id) == 500


def test_async_payout_waits_for_the_callback(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode(monkeypatch, "async")
    partner = funded_partner(session, 1000)
    redemption = redeem(session, partner, "TEST-PULSA").redemption
    assert (redemption.status, redemption.payout_ref) == (
        "requested",
        f"FAKE-{redemption.redemption_no}",
    )

    settled, changed = redemptions.settle_payout(
        session, redemption.payout_ref, "succeeded", actor="payouts"
    )
    assert changed and settled.status == "fulfilled"
    again, changed = redemptions.settle_payout(
        session, redemption.payout_ref, "succeeded", actor="payouts"
    )
    assert not changed and again.status == "fulfilled"
    with pytest.raises(InvalidTransition):  # already paid: a late "failed" is a conflict
        redemptions.settle_payout(session, redemption.payout_ref, "failed", actor="payouts")
    with pytest.raises(RedemptionNotFound):
        redemptions.settle_payout(session, "FAKE-NOPE", "succeeded", actor="payouts")
    assert assert_ledger_consistent(session, partner.id) == 500


def test_a_failed_callback_cancels_and_refunds_once(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode(monkeypatch, "async")
    partner = funded_partner(session, 1000)
    redemption = redeem(session, partner, "TEST-PULSA").redemption
    for _ in range(2):
        settled, _ = redemptions.settle_payout(
            session,
            redemption.payout_ref,
            "failed",
            reason="number not registered",
            actor="payouts",
        )
        assert settled.status == "cancelled"
        assert settled.note == "Payout failed: number not registered"
    refunds = session.scalars(select(LedgerEntry).where(LedgerEntry.reason == "refund")).all()
    assert [r.delta for r in refunds] == [500]
    assert assert_ledger_consistent(session, partner.id) == 1000


def test_a_refused_payout_cancels_and_refunds(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _mode(monkeypatch, "fail")
    partner = funded_partner(session, 1000)
    redemption = redeem(session, partner, "TEST-PULSA").redemption
    assert redemption.status == "cancelled"
    assert redemption.refunded_points == 500
    assert "fake payout provider is set to fail" in redemption.note
    assert assert_ledger_consistent(session, partner.id) == 1000


def test_a_provider_that_is_down_leaves_it_requested_and_the_job_retries(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = DownProvider()
    monkeypatch.setitem(fulfilment.PROVIDERS, "down", lambda: down)
    monkeypatch.setattr(settings, "PAYOUT_PROVIDER", "down")
    partner = funded_partner(session, 1000)
    redemption = redeem(session, partner, "TEST-PULSA", key="wa:pulsa").redemption
    assert (redemption.status, redemption.payout_ref) == ("requested", None)
    assert down.calls == 1
    # A replay of the request asks again (the provider is idempotent per redemption).
    assert redeem(session, partner, "TEST-PULSA", key="wa:pulsa").redemption.status == "requested"
    assert down.calls == 2

    # Still down: the job counts it as waiting; too recent ones are left alone.
    assert retry_payouts.run(session, older_than=timedelta(hours=1)).attempted == 0
    still = retry_payouts.run(session, older_than=timedelta(0))
    assert (still.attempted, still.still_requested) == (1, 1)

    monkeypatch.setattr(settings, "PAYOUT_PROVIDER", "fake")
    _mode(monkeypatch, "instant")
    done = retry_payouts.run(session, older_than=timedelta(0))
    assert (done.attempted, done.fulfilled) == (1, 1)
    session.expire_all()
    assert session.get(Redemption, redemption.id).status == "fulfilled"
    assert retry_payouts.run(session, older_than=timedelta(0)).attempted == 0
    assert assert_ledger_consistent(session, partner.id) == 500


def test_the_retry_job_exit_status(
    session: Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(retry_payouts, "run", lambda **_: redemptions.RetryRun(2, 1, 0, 0, 1))
    assert retry_payouts.main(["--older-than", "0"]) == 1
    assert "1 still waiting" in capsys.readouterr().out
    monkeypatch.setattr(retry_payouts, "run", lambda **_: redemptions.RetryRun(1, 1, 0, 0, 0))
    assert retry_payouts.main([]) == 0


def test_a_pending_answer_without_a_reference_is_retried(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoRef:
        name = "noref"

        def request_payout(self, redemption: Redemption, partner: Partner) -> PayoutResult:
            return PayoutResult("pending")

    monkeypatch.setitem(fulfilment.PROVIDERS, "noref", NoRef)
    monkeypatch.setattr(settings, "PAYOUT_PROVIDER", "noref")
    partner = funded_partner(session, 1000)
    redemption = redeem(session, partner, "TEST-PULSA").redemption
    assert (redemption.status, redemption.payout_ref) == ("requested", None)


def test_providers_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _mode(monkeypatch, "async")
    provider = fulfilment.get_provider()
    assert isinstance(provider, FakePayoutProvider) and provider.mode == "async"
    with pytest.raises(LookupError):
        fulfilment.get_provider("acme")
    fulfilment.register_provider("acme", lambda: FakePayoutProvider("fail"))
    try:
        assert fulfilment.get_provider("acme").mode == "fail"  # type: ignore[attr-defined]
    finally:
        fulfilment.PROVIDERS.pop("acme")
    with pytest.raises(ValueError):
        FakePayoutProvider("sometimes")


def test_cashback_is_paid_out_like_pulsa(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _mode(monkeypatch, "instant")
    make_reward(session, "TEST-CASH", "cashback", 100)
    partner = funded_partner(session, 1000)
    assert redeem(session, partner, "TEST-CASH").redemption.status == "fulfilled"
