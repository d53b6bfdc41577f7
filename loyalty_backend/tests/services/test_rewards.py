"""Reward definitions (content and admin), matching partners' words, and voucher pools."""

from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import WIB, utcnow, wib_date, wib_end_of_day
from app.models import AuditLog, Reward, VoucherCode
from app.services import redemptions, rewards, vouchers
from app.services.errors import InvalidReward, RewardNotFound
from tests.rewards_utils import (
    ADDRESS,
    definition,
    funded_partner,
    load_rewards,
    make_reward,
    redeem,
    stock_of,
)

# --- matching the partner's words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("Voucher belanja Rp50.000", "voucher belanja 50000"),
        ("voucher 50rb", "voucher 50000"),
        ("VOUCHER 50 RIBU", "voucher 50000"),
        ("voucher 50k", "voucher 50000"),
        ("voucher 50", "voucher 50000"),
        ("Rp 1.500.000", "1500000"),
        ("cashback 1,5 jt", "cashback 1500000"),
        ("Pulsa / e-wallet Rp25.000", "pulsa ewallet 25000"),
    ],
)
def test_amounts_are_written_one_way(text: str, normal: str, db: object) -> None:
    assert rewards.normalise_reward_text(text) == normal


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("pulsa", "PULSA-25K"),
        ("isi pulsa dong", "PULSA-25K"),
        ("voucher 50rb", "VCR-50K"),
        ("voucher 50 ribu", "VCR-50K"),
        ("vocer 100rb", "VCR-100K"),
        ("Voucher belanja Rp100.000", "VCR-100K"),
        ("kaos", "KAOS-MITRA"),
        ("rak", "RAK-DISPLAY"),
        ("tv", "TV-43"),
        ("televisi", "TV-43"),
        ("cashback", "CASHBACK-250K"),
    ],
)
def test_partners_words_find_the_demo_rewards(session: Session, query: str, best: str) -> None:
    load_rewards(session)
    ranked = rewards.rank_by_query(rewards.list_rewards(session), query)
    assert ranked and ranked[0][0].code == best, [(r.code, s) for r, s in ranked]


def test_an_amount_never_offers_another_amount(session: Session) -> None:
    load_rewards(session)
    codes = [
        r.code for r, _ in rewards.rank_by_query(rewards.list_rewards(session), "voucher 50rb")
    ]
    assert codes == ["VCR-50K"]
    both = [r.code for r, _ in rewards.rank_by_query(rewards.list_rewards(session), "voucher")]
    assert set(both) == {"VCR-50K", "VCR-100K"}
    assert rewards.rank_by_query(rewards.list_rewards(session), "sepeda motor") == []


# --- definitions ---------------------------------------------------------------------------------


def test_a_voucher_reward_has_no_stock_of_its_own(db: object) -> None:
    with pytest.raises(ValidationError, match="pool of codes"):
        definition("X-VCR", "voucher", 100, stock=10)
    with pytest.raises(ValidationError, match="from is after to"):
        definition(window={"from": "2026-12-31", "to": "2026-12-01"})
    with pytest.raises(ValidationError, match="unknown tier"):
        definition(eligible={"tiers": ["diamond"]})
    with pytest.raises(ValidationError):
        definition(cost=0)
    assert definition(code=" vcr-x ").code == "VCR-X"


def test_admin_upsert_creates_then_updates_and_audits(session: Session) -> None:
    reward, created = rewards.upsert_reward(session, definition("ADM-1", stock=5), actor="admin")
    assert created and reward.source == "admin" and reward.stock == 5
    reward, created = rewards.upsert_reward(
        session, definition("ADM-1", cost=250, stock=None), actor="admin"
    )
    assert not created and (reward.cost, reward.stock) == (250, None)
    audits = session.scalars(
        select(AuditLog).where(AuditLog.entity == "reward").order_by(AuditLog.id)
    ).all()
    assert [a.action for a in audits] == ["reward.create", "reward.update"]
    assert audits[1].details["changes"] == {"cost": [100, 250], "stock": [5, None]}
    with pytest.raises(RewardNotFound):
        rewards.get_reward(session, "ADM-NOPE")


def test_the_content_loader_never_refills_stock(session: Session) -> None:
    load_rewards(session)
    assert stock_of(session, "KAOS-MITRA") == 50
    partner = funded_partner(session, 5000)
    redeem(session, partner, "KAOS-MITRA", delivery_address=ADDRESS)
    assert stock_of(session, "KAOS-MITRA") == 49
    load_rewards(session)  # every `make db` loads the content again
    assert stock_of(session, "KAOS-MITRA") == 49


def test_the_loader_leaves_admin_rewards_alone_and_deactivates_its_own(session: Session) -> None:
    load_rewards(session)
    make_reward(session, "ADM-ONLY", "ewallet", 10)
    session.execute(Reward.__table__.update().where(Reward.code == "TV-43").values(cost=1))
    session.commit()
    load_rewards(session)
    session.expire_all()
    by_code = {r.code: r for r in session.scalars(select(Reward))}
    assert by_code["ADM-ONLY"].active and by_code["ADM-ONLY"].source == "admin"
    assert by_code["TV-43"].cost == 40000  # the file owns its rewards


# --- voucher pools ----------------------------------------------------------------------------


def test_import_counts_added_duplicates_and_rejects(session: Session) -> None:
    make_reward(session, "TEST-VCR", "voucher", 100)
    expires = date.today() + timedelta(days=30)
    first = vouchers.import_codes(
        session,
        "TEST-VCR",
        ["CODE-0001", " CODE-0002 ", "CODE-0001", "", "no spaces!", "AB", 42, "CODE-0003"],
        expires_at=expires,
        actor="admin",
    )
    assert (first.added, first.duplicates) == (3, 1)
    assert [(r.index, r.reason.split(" ")[0]) for r in first.rejected] == [
        (3, "empty"),
        (4, "must"),
        (5, "must"),
        (6, "empty"),
    ]
    again = vouchers.import_codes(
        session, "TEST-VCR", ["CODE-0002", "CODE-0004"], expires_at=expires, actor="admin"
    )
    assert (again.added, again.duplicates, again.rejected) == (1, 1, [])
    stored = session.scalars(select(VoucherCode).order_by(VoucherCode.id)).all()
    assert [c.code for c in stored] == ["CODE-0001", "CODE-0002", "CODE-0003", "CODE-0004"]
    assert stored[0].expires_at == wib_end_of_day(expires)  # usable all that WIB day
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "voucher.import")).first()
    assert audit.details["added"] == 3 and audit.details["rejected"] == 4


def test_import_refuses_a_past_expiry_and_non_voucher_rewards(session: Session) -> None:
    make_reward(session, "TEST-VCR", "voucher", 100)
    make_reward(session, "TEST-KAOS", "merchandise", 100)
    with pytest.raises(InvalidReward, match="future"):
        vouchers.import_codes(
            session, "TEST-VCR", ["CODE-1"], expires_at=utcnow() - timedelta(1), actor="a"
        )
    with pytest.raises(InvalidReward, match="not a voucher"):
        vouchers.import_codes(
            session, "TEST-KAOS", ["CODE-1"], expires_at=date(2099, 1, 1), actor="a"
        )
    with pytest.raises(InvalidReward, match="time zone"):
        vouchers.import_codes(
            session, "TEST-VCR", ["CODE-1"], expires_at=datetime(2099, 1, 1), actor="a"
        )
    with pytest.raises(RewardNotFound):
        vouchers.import_codes(session, "NOPE", ["CODE-1"], expires_at=date(2099, 1, 1), actor="a")


def test_pool_sizes_count_only_usable_codes(session: Session) -> None:
    reward = make_reward(session, "TEST-VCR", "voucher", 100)
    now = datetime(2026, 11, 1, 12, tzinfo=WIB)
    vouchers.import_codes(
        session, "TEST-VCR", ["OLD-0001"], expires_at=date(2026, 11, 2), actor="a", now=now
    )
    vouchers.import_codes(
        session, "TEST-VCR", ["NEW-0001", "NEW-0002"], expires_at=date(2026, 12, 1), actor="a",
        now=now,
    )  # fmt: skip
    assert vouchers.pool_sizes(session, [reward.id], now) == {reward.id: 3}
    # The old code is usable all of 2 November (WIB), gone at 00:00 on the 3rd.
    assert vouchers.pool_sizes(session, [reward.id], datetime(2026, 11, 2, 23, 59, tzinfo=WIB)) == {
        reward.id: 3
    }
    after = datetime(2026, 11, 3, tzinfo=WIB)
    assert vouchers.pool_sizes(session, [reward.id], after) == {reward.id: 2}
    partner = funded_partner(session, 1000)
    redeem(session, partner, "TEST-VCR", now=after)
    assert vouchers.pool_sizes(session, [reward.id], after) == {reward.id: 1}
    view = redemptions.reward_for_partner(session, partner, "TEST-VCR", now=after)
    assert view.stock_left == 1
    assert wib_date(after) == date(2026, 11, 3)


def test_demo_codes_are_deterministic_and_distinct(db: object) -> None:
    first = vouchers.demo_codes("M50K", 200, seed=7)
    assert first == vouchers.demo_codes("M50K", 200, seed=7)
    assert len(set(first)) == 200
    assert all(vouchers.CODE_PATTERN.fullmatch(code) for code in first)
    assert first[0].startswith("M50K-") and len(first[0]) == len("M50K-XXXX-XXXX")
    assert not set("01IO") & set("".join(c[5:] for c in first))
