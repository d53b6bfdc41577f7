"""Racing redemptions on real connections: PostgreSQL (50 threads) and SQLite (fewer).

What must hold whatever the interleaving: stock never below zero and never oversold, a
voucher code issued once, one redemption and one spend per idempotency key, no balance
below zero, and for every partner balance == sum(ledger deltas) == sum(lot remainders).
"""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import LedgerEntry, Partner, Redemption, VoucherCode
from app.services import redemptions, vouchers
from app.services.errors import RedemptionRefused
from tests.conftest import TestDB
from tests.rewards_utils import (
    ADDRESS,
    add_codes,
    all_redemptions,
    funded_partner,
    make_reward,
    redeem,
    stock_of,
)
from tests.utils import assert_ledger_consistent, race


def _workers(db: TestDB, postgresql: int = 50, sqlite: int = 16) -> int:
    return postgresql if db.kind == "postgresql" else sqlite


def _one_each(partner_ids: list[int], reward_code: str) -> Callable[[Session, int], Any]:
    """Thread ``index`` redeems for partner ``index``, with a key of its own."""

    def task(s: Session, index: int) -> Any:
        return redemptions.redeem(
            s,
            s.get(Partner, partner_ids[index]).wa_id,
            reward_code=reward_code,
            idempotency_key=f"wa:race-{index}",
            delivery_address=ADDRESS,
        )

    return task


@pytest.mark.parametrize("kind", ["voucher", "merchandise"])
def test_many_partners_race_for_ten_in_stock(db: TestDB, session: Session, kind: str) -> None:
    workers = _workers(db)
    if kind == "voucher":
        make_reward(session, "RACE-10", "voucher", 100)
        add_codes(session, "RACE-10", 10)
    else:
        make_reward(session, "RACE-10", "merchandise", 100, stock=10)
    partner_ids = [funded_partner(session, 1000).id for _ in range(workers)]

    results = race(db, workers, _one_each(partner_ids, "RACE-10"), (RedemptionRefused,))

    won = [r for r in results if isinstance(r, redemptions.RedeemResult)]
    lost = [r for r in results if isinstance(r, RedemptionRefused)]
    assert len(won) == 10 and len(lost) == workers - 10, results
    assert {r.code for r in lost} == {"out_of_stock"}
    stored = all_redemptions(session)
    assert len(stored) == 10
    if kind == "voucher":
        codes = [r.voucher_code_id for r in stored]
        assert None not in codes and len(set(codes)) == 10
        assert vouchers.pool_sizes(session, [stored[0].reward_id])[stored[0].reward_id] == 0
        issued = session.scalar(
            select(func.count()).select_from(VoucherCode).where(VoucherCode.status == "issued")
        )
        assert issued == 10
    else:
        assert stock_of(session, "RACE-10") == 0
    winners = {session.get(Redemption, r.receipt.redemption_id).partner_id for r in won}
    for partner_id in partner_ids:
        expected = 900 if partner_id in winners else 1000
        assert assert_ledger_consistent(session, partner_id) == expected


def test_twenty_taps_of_one_confirm_button_redeem_once(db: TestDB, session: Session) -> None:
    workers = _workers(db, postgresql=20, sqlite=20)
    make_reward(session, "RACE-VCR", "voucher", 100)
    add_codes(session, "RACE-VCR", 5)
    partner = funded_partner(session, 1000)

    def task(s: Session, _index: int) -> Any:
        return redeem(s, s.get(Partner, partner.id), "RACE-VCR", key="wa:wamid.CONFIRM")

    results = race(db, workers, task, (RedemptionRefused,))

    assert all(isinstance(r, redemptions.RedeemResult) for r in results), results
    assert sum(r.created for r in results) == 1
    assert len({r.receipt.redemption_id for r in results}) == 1
    assert len({r.receipt.voucher_code for r in results}) == 1
    [stored] = all_redemptions(session)
    spends = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.partner_id == partner.id, LedgerEntry.reason == "redemption"
        )
    ).all()
    assert [e.reference_id for e in spends] == [stored.redemption_no]
    assert assert_ledger_consistent(session, partner.id) == 900


def test_different_keys_spend_only_what_the_balance_allows(db: TestDB, session: Session) -> None:
    workers = _workers(db, postgresql=20, sqlite=12)
    make_reward(session, "RACE-300", "voucher", 300)
    add_codes(session, "RACE-300", workers)
    partner = funded_partner(session, 1000)

    def task(s: Session, index: int) -> Any:
        return redeem(s, s.get(Partner, partner.id), "RACE-300", key=f"wa:tap-{index}")

    results = race(db, workers, task, (RedemptionRefused,))

    won = [r for r in results if isinstance(r, redemptions.RedeemResult)]
    lost = [r for r in results if isinstance(r, RedemptionRefused)]
    assert len(won) == 3, results
    assert {(r.code, r.points_short) for r in lost} == {("insufficient_points", 200)}
    assert sorted(r.receipt.balance_after for r in won) == [100, 400, 700]
    assert assert_ledger_consistent(session, partner.id) == 100


def test_the_period_limit_holds_under_a_race(db: TestDB, session: Session) -> None:
    workers = _workers(db, postgresql=12, sqlite=10)
    make_reward(session, "RACE-LIM", "ewallet", 10, limit={"count": 2, "period": "month"})
    partner = funded_partner(session, 1000)

    def task(s: Session, index: int) -> Any:
        return redeem(s, s.get(Partner, partner.id), "RACE-LIM", key=f"wa:lim-{index}")

    results = race(db, workers, task, (RedemptionRefused,))

    won = [r for r in results if isinstance(r, redemptions.RedeemResult)]
    assert len(won) == 2, results
    assert {r.code for r in results if isinstance(r, RedemptionRefused)} == {"limit_reached"}
    assert session.scalar(select(func.count()).select_from(Redemption)) == 2
    assert assert_ledger_consistent(session, partner.id) == 980


def test_redeeming_while_an_admin_cancels_keeps_stock_and_points_exact(
    db: TestDB, session: Session
) -> None:
    """Cancellations put units back while others redeem them: no unit is lost or doubled."""
    make_reward(session, "RACE-MIX", "merchandise", 100, stock=3)
    owners = [funded_partner(session, 500) for _ in range(3)]
    numbers = [
        redeem(session, p, "RACE-MIX", delivery_address=ADDRESS).redemption.redemption_no
        for p in owners
    ]
    buyers = [funded_partner(session, 500).id for _ in range(9)]

    def task(s: Session, index: int) -> Any:
        if index < 3:
            return redemptions.cancel(s, numbers[index], actor="admin")
        return redemptions.redeem(
            s,
            s.get(Partner, buyers[index - 3]).wa_id,
            reward_code="RACE-MIX",
            idempotency_key=f"wa:mix-{index}",
            delivery_address=ADDRESS,
        )

    results = race(db, 12, task, (RedemptionRefused,))

    bought = [r for r in results[3:] if isinstance(r, redemptions.RedeemResult)]
    assert stock_of(session, "RACE-MIX") == 3 - len(bought)
    assert 0 <= len(bought) <= 3
    for partner in owners:
        assert assert_ledger_consistent(session, partner.id) == 500
    for partner_id in buyers:
        assert assert_ledger_consistent(session, partner_id) in (400, 500)
