"""The redemption rules (app/services/redemptions.py), one at a time, on both databases."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.core.clock import WIB, utcnow, wib_date, wib_end_of_day
from app.core.db import write_transaction
from app.models import AuditLog, LedgerEntry, LotConsumption, PointsAccount, PointsLot, VoucherCode
from app.models.enums import PartnerRole, PartnerStatus
from app.services import partners, redemptions, tiers
from app.services.errors import (
    InvalidRedemption,
    InvalidTransition,
    PartnerLeft,
    PartnerSuspended,
    RedemptionKeyConflict,
    RedemptionNotFound,
    RedemptionRefused,
    RewardNotFound,
)
from tests.conftest import TestDB
from tests.rewards_utils import (
    ADDRESS,
    add_codes,
    all_redemptions,
    funded_partner,
    give_points,
    make_reward,
    redeem,
    stock_of,
)
from tests.utils import account_balance, assert_ledger_consistent, new_partner


def _refusal(excinfo: pytest.ExceptionInfo[RedemptionRefused]) -> str:
    return excinfo.value.code


# --- the happy paths --------------------------------------------------------------------------


def test_a_voucher_is_fulfilled_at_once_with_the_soonest_expiring_code(session: Session) -> None:
    make_reward(session, "TEST-VCR", "voucher", 300)
    now = utcnow()
    later = add_codes(session, "TEST-VCR", 2, expires_at=now + timedelta(days=60))
    sooner = add_codes(session, "TEST-VCR", 1, expires_at=now + timedelta(days=30))
    partner = funded_partner(session, 1000)

    result = redeem(session, partner, "TEST-VCR", key="wa:first")

    redemption = result.redemption
    assert result.created
    assert redemption.redemption_no == f"RDM-{redemption.id:06d}"
    assert (redemption.status, redemption.kind) == ("fulfilled", "voucher")
    assert (redemption.points_spent, redemption.balance_after) == (300, 700)
    assert redemption.voucher_code.code == sooner[0]
    assert redemption.voucher_code.status == "issued"
    assert redemption.voucher_code.redemption_id == redemption.id
    entry = session.get(LedgerEntry, redemption.ledger_entry_id)
    assert (entry.delta, entry.reason) == (-300, "redemption")
    assert entry.idempotency_key == f"redemption:{redemption.redemption_no}"
    assert entry.reference_type == "redemption"
    assert entry.reference_id == redemption.redemption_no
    assert assert_ledger_consistent(session, partner.id) == 700
    assert later  # still in the pool
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.entity_id == redemption.redemption_no)
    ).all()
    assert "redemption.create" in actions


def test_goods_take_one_unit_and_ship_to_the_address_given(session: Session) -> None:
    make_reward(session, "TEST-KAOS", "merchandise", 200, stock=3)
    partner = funded_partner(session, 500)

    redemption = redeem(session, partner, "TEST-KAOS", delivery_address=f"  {ADDRESS}\n").redemption

    assert redemption.status == "requested"
    assert redemption.delivery_address == ADDRESS
    assert stock_of(session, "TEST-KAOS") == 2
    session.refresh(partner)
    assert partner.address == ADDRESS  # saved for next time
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "partner.set_address")).one()
    assert audit.details == {"from": None, "to": ADDRESS}
    # The next redemption ships to the address on file.
    again = redeem(session, partner, "TEST-KAOS").redemption
    assert again.delivery_address == ADDRESS


def test_goods_without_any_address_are_refused(session: Session) -> None:
    make_reward(session, "TEST-RAK", "business_supply", 100, stock=1)
    partner = funded_partner(session, 500)
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-RAK")
    assert _refusal(refused) == "address_required"
    assert set(refused.value.description) == {"id", "en"}
    assert stock_of(session, "TEST-RAK") == 1
    assert assert_ledger_consistent(session, partner.id) == 500
    assert all_redemptions(session) == []


def test_an_address_that_is_too_long_is_invalid(session: Session) -> None:
    make_reward(session, "TEST-KAOS", "merchandise", 100)
    partner = funded_partner(session, 500)
    with pytest.raises(InvalidRedemption):
        redeem(session, partner, "TEST-KAOS", delivery_address="x" * 301)


def test_unknown_reward(session: Session) -> None:
    partner = funded_partner(session, 500)
    with pytest.raises(RewardNotFound):
        redeem(session, partner, "NOPE")


# --- idempotency ------------------------------------------------------------------------------


def test_the_same_key_again_is_the_same_redemption(session: Session) -> None:
    make_reward(session, "TEST-KAOS", "merchandise", 100, stock=5)
    partner = funded_partner(session, 500)
    first = redeem(session, partner, "TEST-KAOS", key="wa:same", delivery_address=ADDRESS)
    second = redeem(session, partner, "TEST-KAOS", key="wa:same", delivery_address=ADDRESS)
    assert first.created and not second.created
    assert second.redemption.id == first.redemption.id
    assert stock_of(session, "TEST-KAOS") == 4
    assert assert_ledger_consistent(session, partner.id) == 400


def test_the_same_key_for_another_reward_or_partner_is_a_conflict(session: Session) -> None:
    make_reward(session, "TEST-A", "ewallet", 100)
    make_reward(session, "TEST-B", "ewallet", 100)
    partner, other = funded_partner(session, 500), funded_partner(session, 500)
    redeem(session, partner, "TEST-A", key="wa:mine")
    with pytest.raises(RedemptionKeyConflict) as conflict:
        redeem(session, partner, "TEST-B", key="wa:mine")
    assert conflict.value.fields == {"code": "idempotency_conflict"}
    with pytest.raises(RedemptionKeyConflict):
        redeem(session, other, "TEST-A", key="wa:mine")
    assert assert_ledger_consistent(session, partner.id) == 400
    assert assert_ledger_consistent(session, other.id) == 500


# --- points -----------------------------------------------------------------------------------


def test_insufficient_points_says_how_many_are_missing(session: Session) -> None:
    make_reward(session, "TEST-A", "ewallet", 1000)
    partner = funded_partner(session, 750)
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-A")
    assert (refused.value.code, refused.value.points_short) == ("insufficient_points", 250)
    assert refused.value.description == {
        "id": "Poin Anda kurang 250 poin untuk hadiah ini.",
        "en": "You need 250 more points for this reward.",
    }
    assert all_redemptions(session) == []
    assert assert_ledger_consistent(session, partner.id) == 750
    refusal = session.scalars(select(AuditLog).where(AuditLog.action == "redemption.refused")).one()
    assert refusal.details["code"] == "insufficient_points"
    assert refusal.details["points_short"] == 250


def test_expired_points_do_not_pay(session: Session) -> None:
    make_reward(session, "TEST-A", "ewallet", 100)
    partner = new_partner(session)
    now = utcnow()
    give_points(session, partner, 300, now=now - timedelta(days=40), expires_in_days=30)
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-A", now=now)
    assert (refused.value.code, refused.value.points_short) == ("insufficient_points", 100)


def test_points_past_their_expiry_are_swept_and_the_rest_pays(session: Session) -> None:
    """On PostgreSQL the function hands the sweep back to Python and is called again."""
    make_reward(session, "TEST-A", "ewallet", 100)
    partner = new_partner(session)
    now = utcnow()
    give_points(session, partner, 300, now=now - timedelta(days=40), expires_in_days=30)
    give_points(session, partner, 250, now=now, expires_in_days=300)

    redemption = redeem(session, partner, "TEST-A", now=now).redemption

    assert redemption.balance_after == 150
    assert assert_ledger_consistent(session, partner.id) == 150
    reasons = session.scalars(
        select(LedgerEntry.reason)
        .where(LedgerEntry.partner_id == partner.id)
        .order_by(LedgerEntry.id)
    ).all()
    assert reasons == ["adjustment", "adjustment", "expiry", "redemption"]


def test_a_partner_without_an_account_row_is_refused_for_points(session: Session) -> None:
    make_reward(session, "TEST-A", "ewallet", 100)
    partner = new_partner(session)
    with write_transaction(session):
        session.execute(delete(PointsAccount).where(PointsAccount.partner_id == partner.id))

    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-A")

    assert (refused.value.code, refused.value.points_short) == ("insufficient_points", 100)


def test_a_redemption_writes_the_same_rows_on_both_databases(session: Session) -> None:
    """PostgreSQL runs the transaction in ``mitra_redeem``, SQLite in Python: the rows and
    their audit details must not tell which."""
    make_reward(session, "TEST-KAOS", "merchandise", 200, stock=3)
    partner = funded_partner(session, 500)
    now = utcnow()

    redemption = redeem(
        session, partner, "TEST-KAOS", key="wa:rows", delivery_address=ADDRESS, now=now, actor="bot"
    ).redemption

    number = redemption.redemption_no
    entry = session.get(LedgerEntry, redemption.ledger_entry_id)
    assert entry is not None
    description = "Redeemed: Reward TEST-KAOS (" + number + ")"
    assert (entry.description, entry.balance_after, entry.created_at) == (description, 300, now)
    rows = session.execute(
        select(
            AuditLog.actor, AuditLog.action, AuditLog.entity, AuditLog.entity_id, AuditLog.details
        )
        .where(AuditLog.created_at == now)
        .order_by(AuditLog.action)
    ).all()
    assert [tuple(row) for row in rows] == [
        ("bot", "partner.set_address", "partner", str(partner.id), {"from": None, "to": ADDRESS}),
        (
            "bot",
            "points.spend",
            "ledger_entry",
            str(entry.id),
            {
                "partner_id": partner.id,
                "delta": -200,
                "balance_after": 300,
                "reason": "redemption",
                "reference_type": "redemption",
                "reference_id": number,
                "description": description,
                "idempotency_key": f"redemption:{number}",
            },
        ),
        (
            "bot",
            "redemption.create",
            "redemption",
            number,
            {
                "partner_id": partner.id,
                "reward": "TEST-KAOS",
                "kind": "merchandise",
                "status": "requested",
                "points": 200,
                "balance_after": 300,
                "ledger_entry_id": entry.id,
                "voucher_code_id": None,
                "stock_left": 2,
                "idempotency_key": "wa:rows",
            },
        ),
    ]
    consumed = session.scalars(
        select(LotConsumption.points).where(LotConsumption.ledger_entry_id == entry.id)
    ).all()
    assert consumed == [200]


def test_points_are_taken_from_the_soonest_expiring_lots(session: Session) -> None:
    make_reward(session, "TEST-A", "ewallet", 500)
    partner = new_partner(session)
    give_points(session, partner, 1000, expires_in_days=300)
    give_points(session, partner, 400, expires_in_days=20)
    redemption = redeem(session, partner, "TEST-A").redemption
    taken = session.execute(
        select(PointsLot.points_earned, LotConsumption.points)
        .join(LotConsumption, LotConsumption.lot_id == PointsLot.id)
        .where(LotConsumption.ledger_entry_id == redemption.ledger_entry_id)
        .order_by(PointsLot.expires_at)
    ).all()
    assert [tuple(row) for row in taken] == [(400, 400), (1000, 100)]


# --- eligibility ------------------------------------------------------------------------------


def test_tier_eligibility(session: Session) -> None:
    make_reward(session, "TEST-GOLD", "cashback", 100, eligible={"tiers": ["gold", "platinum"]})
    silver = funded_partner(session, 4000)  # adjustments never move a tier
    gold = new_partner(session)
    give_points(session, gold, 6000, reason="claim")
    assert tiers.current_tier(session, gold.id).code == "gold"
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, silver, "TEST-GOLD")
    assert refused.value.code == "not_eligible"
    assert refused.value.description == {
        "id": "Hadiah ini khusus mitra tier Gold dan Platinum.",
        "en": "This reward is only for Gold and Platinum partners.",
    }
    assert redeem(session, gold, "TEST-GOLD").redemption.status == "fulfilled"


def test_role_and_region_eligibility(session: Session) -> None:
    make_reward(
        session,
        "TEST-SUMUT",
        "ewallet",
        100,
        eligible={"roles": ["distributor", "wholesaler"], "regions": ["Sumatera Utara"]},
    )
    retailer = funded_partner(session, 500, region="Sumatera Utara")
    elsewhere = funded_partner(session, 500, role=PartnerRole.DISTRIBUTOR, region="Jawa Timur")
    welcome = funded_partner(session, 500, role=PartnerRole.WHOLESALER, region="sumatera utara")
    for partner, words in ((retailer, "distributors and wholesalers"), (elsewhere, "Sumatera")):
        with pytest.raises(RedemptionRefused) as refused:
            redeem(session, partner, "TEST-SUMUT")
        assert refused.value.code == "not_eligible"
        assert words in refused.value.description["en"]
    assert redeem(session, welcome, "TEST-SUMUT").created  # regions ignore case


def test_active_window_is_judged_on_the_wib_date(session: Session) -> None:
    make_reward(
        session, "TEST-DEC", "ewallet", 100, window={"from": "2026-12-01", "to": "2026-12-31"}
    )
    partner = funded_partner(session, 1000)
    # 30 November 23:59 WIB is too early; 1 December 00:00 WIB is in.
    early = datetime(2026, 11, 30, 23, 59, tzinfo=WIB)
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-DEC", now=early)
    assert refused.value.code == "not_eligible"
    assert "1 Desember 2026" in refused.value.description["id"]
    assert redeem(session, partner, "TEST-DEC", now=datetime(2026, 12, 1, tzinfo=WIB)).created
    assert redeem(session, partner, "TEST-DEC", now=datetime(2026, 12, 31, 23, 59, tzinfo=WIB))
    with pytest.raises(RedemptionRefused):
        redeem(session, partner, "TEST-DEC", now=datetime(2027, 1, 1, tzinfo=WIB))


def test_an_inactive_reward_cannot_be_redeemed(session: Session) -> None:
    make_reward(session, "TEST-OLD", "ewallet", 100, active=False)
    partner = funded_partner(session, 500)
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-OLD")
    assert refused.value.code == "not_eligible"


@pytest.mark.parametrize(
    ("status", "error"),
    [(PartnerStatus.SUSPENDED, PartnerSuspended), (PartnerStatus.LEFT, PartnerLeft)],
)
def test_only_active_partners_redeem(session: Session, status: PartnerStatus, error: type) -> None:
    make_reward(session, "TEST-A", "ewallet", 100)
    partner = funded_partner(session, 500)
    first = redeem(session, partner, "TEST-A", key="wa:before")
    partners.set_status(session, partner.wa_id, status, actor="admin")
    with pytest.raises(error):
        redeem(session, partner, "TEST-A")
    # A replay of what was redeemed before still answers.
    assert redeem(session, partner, "TEST-A", key="wa:before").redemption.id == first.redemption.id


# --- per-partner limits at WIB calendar boundaries ---------------------------------------------

LIMIT_CASES = [
    # period, last instant of one period (WIB), first instant of the next
    ("day", datetime(2026, 11, 30, 23, 59, 59, tzinfo=WIB), datetime(2026, 12, 1, tzinfo=WIB)),
    ("week", datetime(2026, 11, 29, 23, 59, 59, tzinfo=WIB), datetime(2026, 11, 30, tzinfo=WIB)),
    ("month", datetime(2026, 11, 30, 23, 59, 59, tzinfo=WIB), datetime(2026, 12, 1, tzinfo=WIB)),
    ("quarter", datetime(2026, 12, 31, 23, 59, 59, tzinfo=WIB), datetime(2027, 1, 1, tzinfo=WIB)),
    ("year", datetime(2026, 12, 31, 23, 59, 59, tzinfo=WIB), datetime(2027, 1, 1, tzinfo=WIB)),
]


@pytest.mark.parametrize(("period", "last", "first"), LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_the_limit_counts_per_wib_calendar_period(
    session: Session, period: str, last: datetime, first: datetime
) -> None:
    make_reward(session, "TEST-LIM", "ewallet", 100, limit={"count": 1, "period": period})
    partner = new_partner(session)
    give_points(session, partner, 1000, now=last - timedelta(days=2))
    assert redeem(session, partner, "TEST-LIM", now=last - timedelta(hours=1)).created
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-LIM", now=last)
    assert refused.value.code == "limit_reached"
    next_day = wib_date(first)
    assert f"{next_day.day} " in refused.value.description["en"]
    assert str(next_day.year) in refused.value.description["id"]
    # 00:00 WIB starts the next period (17:00 UTC the day before).
    assert redeem(session, partner, "TEST-LIM", now=first).created


def test_cancelled_redemptions_do_not_count_towards_the_limit(session: Session) -> None:
    make_reward(session, "TEST-LIM", "merchandise", 100, limit={"count": 1, "period": "month"})
    partner = funded_partner(session, 1000)
    first = redeem(session, partner, "TEST-LIM", delivery_address=ADDRESS).redemption
    with pytest.raises(RedemptionRefused):
        redeem(session, partner, "TEST-LIM")
    redemptions.cancel(session, first.redemption_no, actor="admin", note="changed mind")
    assert redeem(session, partner, "TEST-LIM").created


# --- stock ------------------------------------------------------------------------------------


def test_goods_out_of_stock(session: Session) -> None:
    make_reward(session, "TEST-TV", "merchandise", 100, stock=1)
    one, two = funded_partner(session, 500), funded_partner(session, 500)
    redeem(session, one, "TEST-TV", delivery_address=ADDRESS)
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, two, "TEST-TV", delivery_address=ADDRESS)
    assert refused.value.code == "out_of_stock"
    assert stock_of(session, "TEST-TV") == 0
    assert assert_ledger_consistent(session, two.id) == 500  # the spend rolled back


def test_an_exhausted_voucher_pool_is_out_of_stock(session: Session) -> None:
    make_reward(session, "TEST-VCR", "voucher", 100)
    partner = funded_partner(session, 1000)
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-VCR")
    assert refused.value.code == "out_of_stock"
    add_codes(session, "TEST-VCR", 2)
    redeem(session, partner, "TEST-VCR")
    redeem(session, partner, "TEST-VCR")
    with pytest.raises(RedemptionRefused):
        redeem(session, partner, "TEST-VCR")
    assert assert_ledger_consistent(session, partner.id) == 800


def test_expired_voucher_codes_are_never_issued(session: Session) -> None:
    make_reward(session, "TEST-VCR", "voucher", 100)
    t0 = utcnow()
    short = add_codes(session, "TEST-VCR", 2, expires_at=t0 + timedelta(days=1), now=t0)
    long = add_codes(session, "TEST-VCR", 1, expires_at=t0 + timedelta(days=10), now=t0)
    partner = funded_partner(session, 1000)
    later = t0 + timedelta(days=2)
    issued = redeem(session, partner, "TEST-VCR", now=later).redemption
    assert issued.voucher_code.code == long[0]
    with pytest.raises(RedemptionRefused) as refused:
        redeem(session, partner, "TEST-VCR", now=later)
    assert refused.value.code == "out_of_stock"
    statuses = dict(session.execute(select(VoucherCode.code, VoucherCode.status)).all())
    assert [statuses[code] for code in short] == ["available", "available"]


# --- cancel and refund ------------------------------------------------------------------------


def _refund_lot(session: Session, redemption_no: str) -> PointsLot:
    session.commit()
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == f"refund:{redemption_no}")
    ).one()
    assert (entry.reason, entry.reference_type) == ("refund", "redemption")
    return session.scalars(select(PointsLot).where(PointsLot.ledger_entry_id == entry.id)).one()


def test_a_refund_expires_with_the_latest_lot_the_redemption_used(session: Session) -> None:
    make_reward(session, "TEST-A", "merchandise", 500)
    partner = new_partner(session)
    now = utcnow()
    give_points(session, partner, 100, now=now, expires_in_days=10)
    give_points(session, partner, 1000, now=now, expires_in_days=200)
    redemption = redeem(session, partner, "TEST-A", delivery_address=ADDRESS, now=now).redemption
    lifetime = session.get(PointsAccount, partner.id).lifetime_earned

    cancelled = redemptions.cancel(session, redemption.redemption_no, actor="admin", note="x")

    assert (cancelled.status, cancelled.refunded_points) == ("cancelled", 500)
    lot = _refund_lot(session, redemption.redemption_no)
    assert (lot.points_earned, lot.points_remaining) == (500, 500)
    assert lot.expires_at == wib_end_of_day(wib_date(now) + timedelta(days=200))
    assert assert_ledger_consistent(session, partner.id) == 1100
    session.expire_all()
    assert session.get(PointsAccount, partner.id).lifetime_earned == lifetime  # not earned again


def test_a_refund_lasts_at_least_thirty_days(session: Session) -> None:
    make_reward(session, "TEST-A", "merchandise", 150)
    partner = new_partner(session)
    t0 = utcnow()
    give_points(session, partner, 200, now=t0, expires_in_days=25)
    redemption = redeem(session, partner, "TEST-A", delivery_address=ADDRESS, now=t0).redemption
    # Cancelled 20 days later: the spent lot has 5 days left, the refund gets 30.
    refunded_at = t0 + timedelta(days=20)
    redemptions.cancel(session, redemption.redemption_no, actor="admin", now=refunded_at)
    lot = _refund_lot(session, redemption.redemption_no)
    assert lot.expires_at == wib_end_of_day(wib_date(refunded_at) + timedelta(days=30))
    assert redemptions.REFUND_MIN_DAYS == 30


def test_cancelling_returns_goods_stock_and_voids_a_voucher(session: Session) -> None:
    make_reward(session, "TEST-KAOS", "merchandise", 100, stock=2)
    make_reward(session, "TEST-VCR", "voucher", 100)
    add_codes(session, "TEST-VCR", 1)
    partner = funded_partner(session, 1000)
    goods = redeem(session, partner, "TEST-KAOS", delivery_address=ADDRESS).redemption
    voucher = redeem(session, partner, "TEST-VCR").redemption
    assert stock_of(session, "TEST-KAOS") == 1

    redemptions.cancel(session, goods.redemption_no, actor="admin")
    redemptions.cancel(session, voucher.redemption_no, actor="admin", note="code did not work")

    assert stock_of(session, "TEST-KAOS") == 2
    code = session.get(VoucherCode, voucher.voucher_code_id, populate_existing=True)
    assert code.status == "void"
    with pytest.raises(RedemptionRefused) as refused:  # the voided code is never issued again
        redeem(session, partner, "TEST-VCR")
    assert refused.value.code == "out_of_stock"
    assert assert_ledger_consistent(session, partner.id) == 1000
    # Cancelling again changes nothing (one refund: the key refund:<no> is unique).
    redemptions.cancel(session, goods.redemption_no, actor="admin")
    assert account_balance(session, partner.id) == 1000
    refunds = session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.reason == "refund")
    )
    assert refunds == 2


def test_a_refund_reaches_a_suspended_partner(session: Session) -> None:
    make_reward(session, "TEST-KAOS", "merchandise", 100)
    partner = funded_partner(session, 300)
    redemption = redeem(session, partner, "TEST-KAOS", delivery_address=ADDRESS).redemption
    partners.set_status(session, partner.wa_id, PartnerStatus.SUSPENDED, actor="admin")
    redemptions.cancel(session, redemption.redemption_no, actor="admin")
    assert assert_ledger_consistent(session, partner.id) == 300


def test_cancel_unknown(session: Session) -> None:
    with pytest.raises(RedemptionNotFound):
        redemptions.cancel(session, "RDM-999999", actor="admin")


# --- status changes ----------------------------------------------------------------------------

ALL = ("requested", "fulfilled", "shipped", "delivered", "cancelled")
ALLOWED = {
    "voucher": {("fulfilled", "cancelled")},
    "ewallet": {("requested", "fulfilled"), ("requested", "cancelled")},
    "cashback": {("requested", "fulfilled"), ("requested", "cancelled")},
    "merchandise": {
        ("requested", "shipped"),
        ("requested", "cancelled"),
        ("shipped", "delivered"),
        ("shipped", "cancelled"),
    },
    "business_supply": {
        ("requested", "shipped"),
        ("requested", "cancelled"),
        ("shipped", "delivered"),
        ("shipped", "cancelled"),
    },
}


@pytest.mark.parametrize("kind", sorted(ALLOWED))
def test_the_transition_table(kind: str) -> None:
    for before in ALL:
        for after in ALL:
            allowed = after in redemptions.allowed_transitions(kind, before)
            assert allowed == ((before, after) in ALLOWED[kind]), (kind, before, after)


def test_goods_are_shipped_with_tracking_then_delivered(session: Session) -> None:
    make_reward(session, "TEST-KAOS", "merchandise", 100)
    partner = funded_partner(session, 300)
    number = redeem(
        session, partner, "TEST-KAOS", delivery_address=ADDRESS
    ).redemption.redemption_no
    with pytest.raises(InvalidRedemption):  # shipping needs the courier and tracking number
        redemptions.update_redemption(session, number, actor="admin", status="shipped")
    with pytest.raises(InvalidTransition):
        redemptions.update_redemption(session, number, actor="admin", status="delivered")
    shipped = redemptions.update_redemption(
        session, number, actor="admin", status="shipped", courier="JNE", tracking_no="JN123"
    )
    assert (shipped.status, shipped.courier, shipped.tracking_no) == ("shipped", "JNE", "JN123")
    delivered = redemptions.update_redemption(session, number, actor="admin", status="delivered")
    assert delivered.status == "delivered"
    with pytest.raises(InvalidTransition) as refused:
        redemptions.cancel(session, number, actor="admin")
    assert refused.value.fields == {"code": "invalid_transition"}
    changes = session.scalars(
        select(AuditLog.details).where(
            AuditLog.action == "redemption.update", AuditLog.entity_id == number
        )
    ).all()
    assert [c["changes"].get("status") for c in changes] == [
        ["requested", "shipped"],
        ["shipped", "delivered"],
    ]


def test_courier_is_for_goods_only(session: Session) -> None:
    make_reward(session, "TEST-A", "ewallet", 100)
    partner = funded_partner(session, 300)
    number = redeem(session, partner, "TEST-A").redemption.redemption_no
    with pytest.raises(InvalidRedemption):
        redemptions.update_redemption(session, number, actor="admin", courier="JNE")
    # A paid e-wallet redemption is final.
    with pytest.raises(InvalidTransition):
        redemptions.update_redemption(session, number, actor="admin", status="cancelled")
    note = redemptions.update_redemption(session, number, actor="admin", note="checked")
    assert note.note == "checked"


# --- the catalogue a partner sees --------------------------------------------------------------


def test_the_catalogue_lists_only_what_the_partner_may_redeem(session: Session) -> None:
    make_reward(session, "TEST-PULSA", "ewallet", 500)
    make_reward(session, "TEST-VCR", "voucher", 1000)
    make_reward(session, "TEST-KAOS", "merchandise", 1500, stock=0)
    make_reward(session, "TEST-CASH", "cashback", 4500, eligible={"tiers": ["gold"]})
    make_reward(session, "TEST-LATER", "ewallet", 10, window={"from": "2099-01-01"})
    make_reward(session, "TEST-OFF", "ewallet", 10, active=False)
    add_codes(session, "TEST-VCR", 3)
    partner = funded_partner(session, 800)

    catalogue = redemptions.rewards_for_partner(session, partner)

    assert [v.reward.code for v in catalogue.items] == ["TEST-PULSA", "TEST-VCR", "TEST-KAOS"]
    assert (catalogue.balance, catalogue.total) == (800, 3)
    pulsa, voucher, kaos = catalogue.items
    assert (pulsa.points_short, pulsa.unavailable) == (0, None)
    assert (voucher.stock_left, voucher.points_short) == (3, 200)
    assert voucher.unavailable.code == "insufficient_points"
    assert (kaos.stock_left, kaos.unavailable.code) == (0, "out_of_stock")
    page = redemptions.rewards_for_partner(session, partner, limit=1, offset=1)
    assert [v.reward.code for v in page.items] == ["TEST-VCR"] and page.total == 3
    only = redemptions.rewards_for_partner(session, partner, kind="voucher")
    assert [v.reward.code for v in only.items] == ["TEST-VCR"]

    view = redemptions.reward_for_partner(session, partner, "TEST-CASH")
    assert view.unavailable.code == "not_eligible"
    assert redemptions.reward_for_partner(session, partner, "TEST-LATER").unavailable.code == (
        "not_active"
    )
    assert redemptions.reward_for_partner(session, partner, "TEST-OFF").unavailable.code == (
        "not_active"
    )


def test_the_catalogue_shows_a_reached_limit(session: Session) -> None:
    make_reward(session, "TEST-LIM", "ewallet", 100, limit={"count": 1, "period": "month"})
    partner = funded_partner(session, 800)
    redeem(session, partner, "TEST-LIM")
    view = redemptions.reward_for_partner(session, partner, "TEST-LIM")
    assert view.unavailable.code == "limit_reached"


def test_expiring_soon_in_the_catalogue(session: Session) -> None:
    partner = new_partner(session)
    now = utcnow()
    give_points(session, partner, 300, now=now, expires_in_days=10)
    catalogue = redemptions.rewards_for_partner(session, partner, now=now)
    assert catalogue.expiring_soon_points == 300
    assert catalogue.expiring_soon_date == wib_date(now) + timedelta(days=10)


def test_a_redemption_of_another_partner_is_not_found(session: Session) -> None:
    make_reward(session, "TEST-A", "ewallet", 100)
    mine, other = funded_partner(session, 300), funded_partner(session, 300)
    number = redeem(session, mine, "TEST-A").redemption.redemption_no
    assert redemptions.get_for_partner(session, mine.id, number).redemption_no == number
    with pytest.raises(RedemptionNotFound):
        redemptions.get_for_partner(session, other.id, number)
    assert [r.redemption_no for r in redemptions.list_for_partner(session, other.id)] == []


def test_redeem_refuses_to_run_inside_a_transaction(session: Session) -> None:
    make_reward(session, "TEST-A", "ewallet", 100)
    partner = funded_partner(session, 300)
    with pytest.raises(RuntimeError), write_transaction(session):
        redeem(session, partner, "TEST-A")


def test_a_reward_cannot_be_deleted(db: TestDB, session: Session) -> None:
    """redemption.reward_id has no foreign key (app/models/reward.py): the database keeps
    the reference valid by refusing to delete rewards instead."""
    make_reward(session, "TEST-KAOS", "merchandise", 200, stock=3)
    partner = funded_partner(session, 500)
    redeem(session, partner, "TEST-KAOS", delivery_address=ADDRESS)
    session.commit()

    with pytest.raises(DBAPIError, match="never deleted"), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM reward WHERE code = 'TEST-KAOS'"))

    assert stock_of(session, "TEST-KAOS") == 2
