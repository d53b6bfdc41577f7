"""The demo seed's rewards: the content's rewards, deterministic voucher pools, addresses."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core.clock import wib_date, wib_end_of_day
from app.demo_fixtures import ANDI, BUDI, FIXTURES, RINA
from app.initial_data import DEMO_VOUCHER_DAYS, RANDOM_SEED, seed_demo
from app.models import Partner, Reward, VoucherCode
from app.services import redemptions, vouchers
from app.services.errors import RedemptionRefused
from tests.utils import assert_ledger_consistent


def _partner(session: Session, wa_id: str) -> Partner:
    return session.scalars(select(Partner).where(Partner.wa_id == wa_id)).one()


def _pool(session: Session, reward_code: str) -> list[VoucherCode]:
    return list(
        session.scalars(
            select(VoucherCode)
            .join(Reward, Reward.id == VoucherCode.reward_id)
            .where(Reward.code == reward_code)
            .order_by(VoucherCode.id)
        )
    )


def test_the_seed_loads_the_rewards_and_fills_the_voucher_pools(
    session: Session, seeded: datetime
) -> None:
    stock = dict(session.execute(select(Reward.code, Reward.stock)).all())
    assert stock == {
        "PULSA-25K": None,
        "VCR-50K": None,
        "VCR-100K": None,
        "KAOS-MITRA": 50,
        "RAK-DISPLAY": 10,
        "CASHBACK-250K": None,
        "TV-43": 3,
    }
    fifty, hundred = _pool(session, "VCR-50K"), _pool(session, "VCR-100K")
    assert [c.code for c in fifty] == vouchers.demo_codes("M50K", 200, seed=RANDOM_SEED)
    assert [c.code for c in hundred] == vouchers.demo_codes("M100K", 100, seed=RANDOM_SEED + 1)
    expiry = wib_end_of_day(wib_date(seeded) + timedelta(days=DEMO_VOUCHER_DAYS))
    assert {c.expires_at for c in fifty + hundred} == {expiry}
    assert {c.status for c in fifty + hundred} == {"available"}


def test_the_fixtures_have_their_addresses(session: Session, seeded: datetime) -> None:
    for fixture in FIXTURES:
        assert _partner(session, fixture.wa_id).address == fixture.address
    assert RINA.address is None


def test_seeding_again_adds_no_codes_and_restores_missing_addresses(
    session: Session, seeded: datetime
) -> None:
    session.execute(update(Partner).where(Partner.wa_id == BUDI.wa_id).values(address=None))
    session.commit()
    assert not seed_demo(session, seeded + timedelta(days=3)).created
    assert session.scalar(select(func.count()).select_from(VoucherCode)) == 300
    session.expire_all()
    assert _partner(session, BUDI.wa_id).address == BUDI.address


def test_the_demo_story(session: Session, seeded: datetime) -> None:
    """Budi (7,500, Gold) takes a voucher; Rina (0 points, no address) hears about her
    points before anyone asks for an address; only Andi (Platinum) sees the TV."""
    budi, rina, andi = (_partner(session, f.wa_id) for f in (BUDI, RINA, ANDI))
    voucher = redemptions.redeem(
        session, budi.wa_id, reward_code="VCR-50K", idempotency_key="wa:demo-1"
    ).redemption
    assert voucher.voucher_code.code == vouchers.demo_codes("M50K", 1, seed=RANDOM_SEED)[0]
    assert voucher.balance_after == 6500
    assert assert_ledger_consistent(session, budi.id) == 6500
    codes = {v.reward.code for v in redemptions.rewards_for_partner(session, budi).items}
    assert "TV-43" not in codes and "CASHBACK-250K" in codes
    assert "TV-43" in {v.reward.code for v in redemptions.rewards_for_partner(session, andi).items}
    with pytest.raises(RedemptionRefused) as refused:  # points first, then the address
        redemptions.redeem(
            session, rina.wa_id, reward_code="KAOS-MITRA", idempotency_key="wa:demo-2"
        )
    assert (refused.value.code, refused.value.points_short) == ("insufficient_points", 1500)
