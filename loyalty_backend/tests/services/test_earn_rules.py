# ruff: noqa: RUF001 - partners see a real multiplication sign on rule lines
"""Earn rules: each kind, combinations, caps, windows at WIB day boundaries, eligibility."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.commands.load_content import load_content
from app.core.clock import WIB
from app.core.db import write_transaction
from app.models.catalogue import RuleKind
from app.services import earn_rules, ledger, tiers
from app.services.catalogue import UnknownSku
from app.services.earn_rules import Award, PartnerFacts, RuleSpec, compute_award
from tests.services.test_catalogue import PRODUCTS
from tests.utils import new_partner

CATALOGUE = {p.sku: p for p in PRODUCTS}
NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
BUDI = PartnerFacts(1, "retailer", "DKI Jakarta", "gold")
RINA = PartnerFacts(4, "field_seller", "Sulawesi Selatan", "silver")

BASE = RuleSpec("BASE", RuleKind.BASE, "Poin dasar", "Base points")
NEW_SKU = RuleSpec(
    "NEW-SKU",
    RuleKind.SKU_MULTIPLIER,
    "Bonus SKU baru ×2",
    "New SKU bonus ×2",
    starts_on=date(2026, 10, 1),
    ends_on=date(2026, 12, 31),
    skus=frozenset({"KSLS-24"}),
    params={"percent": 200},
)
TIER = RuleSpec(
    "TIER",
    RuleKind.TIER_MULTIPLIER,
    "Bonus tier",
    "Tier bonus",
    params={"percent_by_tier": {"silver": 100, "gold": 125, "platinum": 150}},
)
UPSELL = RuleSpec(
    "UPSELL",
    RuleKind.UPSELL,
    "Target 50 karton",
    "50 cartons target",
    params={"target_quantity": 50, "period": "month", "bonus": 500},
)


@dataclass
class FakeHistory:
    points: int = 0
    quantity: int = 0
    asked: list[tuple] = field(default_factory=list)

    def claim_points(self, partner_id: int, start: date, end: date) -> int:
        self.asked.append(("points", partner_id, start, end))
        return self.points

    def claimed_quantity(self, partner_id, skus, start, end) -> int:
        self.asked.append(("quantity", partner_id, skus, start, end))
        return self.quantity


def award(
    rules: list[RuleSpec],
    lines: list[tuple[str, int]],
    *,
    facts: PartnerFacts = BUDI,
    invoice_date: date | datetime | None = date(2026, 11, 26),
    kind: str = "sales",
    history: FakeHistory | None = None,
    now: datetime = NOW,
) -> Award:
    return compute_award(
        rules,
        CATALOGUE,
        facts=facts,
        claim_lines=lines,
        invoice_date=invoice_date,
        kind=kind,
        now=now,
        history=history or FakeHistory(),
    )


def summary(result: Award) -> list[tuple[str, int]]:
    return [(line.rule_code, line.points) for line in result.lines]


def test_base_points_per_unit_with_bilingual_lines() -> None:
    result = award([BASE], [("KSGA-24", 10), ("BKL-20", 3), ("K3S-50", 1)])
    assert result.points == 500 + 60 + 15
    assert [line.description for line in result.lines] == [
        {
            "id": "10 krt Kopi Susu Gula Aren × 50 = 500",
            "en": "10 ctn Kopi Susu Gula Aren × 50 = 500",
        },
        {"id": "3 dus Biskuit Kelapa × 20 = 60", "en": "3 box Biskuit Kelapa × 20 = 60"},
        {"id": "1 bal Kopi 3in1 Sachet × 15 = 15", "en": "1 bale Kopi 3in1 Sachet × 15 = 15"},
    ]


def test_lines_of_the_same_sku_add_up() -> None:
    assert award([BASE], [("KSGA-24", 4), ("ksga-24", 6)]).points == 500


def test_unknown_sku_and_bad_quantity_are_refused() -> None:
    with pytest.raises(UnknownSku):
        award([BASE], [("NOPE-1", 1)])
    with pytest.raises(ValueError):
        award([BASE], [("KSGA-24", 0)])
    with pytest.raises(ValueError):
        award([BASE], [("KSGA-24", 1)], kind="gift")


def test_the_worked_example() -> None:
    """Gold partner, new-SKU campaign: base, campaign, tier (on the base only)."""
    result = award([TIER, NEW_SKU, BASE], [("KSGA-24", 10), ("KSLS-24", 10)])
    assert summary(result) == [("BASE", 500), ("BASE", 600), ("NEW-SKU", 600), ("TIER", 275)]
    assert result.points == 1975
    assert result.lines[2].description == {
        "id": "Bonus SKU baru ×2 (Kopi Susu Less Sugar): +600",
        "en": "New SKU bonus ×2 (Kopi Susu Less Sugar): +600",
    }
    assert result.lines[3].description == {"id": "Gold ×1,25: +275", "en": "Gold ×1.25: +275"}


def test_thousands_are_written_the_local_way() -> None:
    result = award([BASE], [("KSGA-24", 30)])
    assert result.lines[0].description == {
        "id": "30 krt Kopi Susu Gula Aren × 50 = 1.500",
        "en": "30 ctn Kopi Susu Gula Aren × 50 = 1,500",
    }


def test_tier_multiplier_by_tier() -> None:
    lines = [("TML-48", 10)]  # base 300
    assert award([BASE, TIER], lines, facts=RINA).points == 300  # silver: x1, no line
    platinum = PartnerFacts(3, "distributor", "Sumatera Utara", "platinum")
    assert summary(award([BASE, TIER], lines, facts=platinum)) == [("BASE", 300), ("TIER", 150)]
    nobody = PartnerFacts(9, "retailer", "Bali", None)  # tiers not configured
    assert award([BASE, TIER], lines, facts=nobody).points == 300


def test_multipliers_round_down() -> None:
    # 7 x 35 = 245; x1.25 -> +61.25 -> 61
    assert summary(award([BASE, TIER], [("SCK-12", 7)])) == [("BASE", 245), ("TIER", 61)]


def test_sku_multiplier_cap_and_sku_filter() -> None:
    capped = RuleSpec(**{**NEW_SKU.__dict__, "params": {"percent": 200, "max_points": 250}})
    assert summary(award([BASE, capped], [("KSLS-24", 10), ("KSGA-24", 1)])) == [
        ("BASE", 600),
        ("BASE", 50),
        ("NEW-SKU", 250),
    ]
    # no KSLS-24 in the claim: nothing from the campaign
    assert summary(award([BASE, NEW_SKU], [("KSGA-24", 2)])) == [("BASE", 100)]


def test_sku_bonus_per_claim_and_per_unit() -> None:
    per_claim = RuleSpec(
        "DISPLAY-KIT",
        RuleKind.SKU_BONUS,
        "Bonus biskuit",
        "Biscuit bonus",
        skus=frozenset({"BKL-20"}),
        params={"points": 100, "per": "claim", "min_quantity": 5},
    )
    assert award([BASE, per_claim], [("BKL-20", 4)]).points == 80  # below min_quantity
    assert award([BASE, per_claim], [("BKL-20", 5)]).points == 200
    per_unit = RuleSpec(
        "WATER",
        RuleKind.SKU_BONUS,
        "Promo air",
        "Water promo",
        skus=frozenset({"AMN-24"}),
        params={"points": 5, "per": "unit", "max_points": 60},
    )
    assert summary(award([BASE, per_unit], [("AMN-24", 10)])) == [("BASE", 100), ("WATER", 50)]
    assert summary(award([BASE, per_unit], [("AMN-24", 20)])) == [("BASE", 200), ("WATER", 60)]


def test_upsell_rewards_the_claim_that_crosses_the_target_once() -> None:
    lines = [("KSGA-24", 10)]
    assert award([BASE, UPSELL], lines, history=FakeHistory(quantity=30)).points == 500
    history = FakeHistory(quantity=40)
    result = award([BASE, UPSELL], lines, history=history)
    assert summary(result) == [("BASE", 500), ("UPSELL", 500)]
    assert result.lines[1].description["en"] == "50 cartons target: +500"
    # asked about the invoice's calendar month, all SKUs (the rule has no filter)
    assert history.asked == [("quantity", 1, None, date(2026, 11, 1), date(2026, 11, 30))]
    # already past the target this month: no second bonus
    assert award([BASE, UPSELL], lines, history=FakeHistory(quantity=50)).points == 500
    # one claim reaching it alone
    assert award([BASE, UPSELL], [("KSGA-24", 50)]).points == 3000


def test_upsell_counts_only_its_skus() -> None:
    cartons = RuleSpec(**{**UPSELL.__dict__, "skus": frozenset({"KSGA-24", "TML-48"})})
    history = FakeHistory(quantity=45)
    assert award([BASE, cartons], [("BKL-20", 10)], history=history).points == 200
    assert history.asked == []  # no SKU of the rule in the claim: not even asked
    assert award([BASE, cartons], [("TML-48", 5)], history=history).points == 650
    assert history.asked[0][2] == frozenset({"KSGA-24", "TML-48"})


def test_claim_cap_comes_last() -> None:
    cap = RuleSpec("CAP", RuleKind.CLAIM_CAP, "Batas per klaim", "Per-claim limit",
                   params={"max_points": 1000})  # fmt: skip
    result = award([cap, TIER, NEW_SKU, BASE], [("KSGA-24", 10), ("KSLS-24", 10)])
    assert summary(result) == [
        ("BASE", 500), ("BASE", 600), ("NEW-SKU", 600), ("TIER", 275), ("CAP", -975)
    ]  # fmt: skip
    assert result.points == 1000
    assert result.lines[-1].description == {
        "id": "Batas per klaim: -975",
        "en": "Per-claim limit: -975",
    }
    assert summary(award([BASE, cap], [("KSGA-24", 2)])) == [("BASE", 100)]  # under the cap


def test_period_cap_uses_what_the_period_already_credited() -> None:
    cap = RuleSpec("MONTH", RuleKind.PERIOD_CAP, "Batas bulanan", "Monthly limit",
                   params={"max_points": 2000, "period": "month"})  # fmt: skip
    history = FakeHistory(points=1800)
    result = award([BASE, cap], [("KSGA-24", 10)], history=history)
    assert summary(result) == [("BASE", 500), ("MONTH", -300)]
    assert result.points == 200
    # the period is the calendar month of now (WIB), not of the invoice
    assert history.asked == [("points", 1, date(2026, 11, 1), date(2026, 11, 30))]
    assert award([BASE, cap], [("KSGA-24", 10)], history=FakeHistory(points=2500)).points == 0
    assert award([BASE, cap], [("KSGA-24", 10)], history=FakeHistory(points=0)).points == 500


def test_period_of_now_is_the_wib_month() -> None:
    cap = RuleSpec("MONTH", RuleKind.PERIOD_CAP, "Batas", "Limit",
                   params={"max_points": 10, "period": "month"})  # fmt: skip
    history = FakeHistory()
    # 30 Nov 17:30 UTC is 1 Dec 00:30 WIB: December's budget
    award(
        [BASE, cap],
        [("KSGA-24", 1)],
        history=history,
        now=datetime(2026, 11, 30, 17, 30, tzinfo=UTC),
    )
    assert history.asked == [("points", 1, date(2026, 12, 1), date(2026, 12, 31))]


@pytest.mark.parametrize(
    ("invoice_moment", "bonus"),
    [
        (date(2026, 9, 30), 0),
        (date(2026, 10, 1), 600),
        (date(2026, 12, 31), 600),
        (date(2027, 1, 1), 0),
        # 00:00 WIB on 1 October is 17:00 UTC on 30 September
        (datetime(2026, 9, 30, 17, 0, tzinfo=UTC), 600),
        (datetime(2026, 9, 30, 16, 59, 59, 999999, tzinfo=UTC), 0),
        (datetime(2026, 10, 1, 0, 0, tzinfo=WIB), 600),
        # 23:59:59 WIB on 31 December is still in; 00:00 WIB on 1 January is out
        (datetime(2026, 12, 31, 16, 59, 59, tzinfo=UTC), 600),
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), 0),
    ],
)
def test_campaign_window_on_the_wib_date_of_the_invoice(invoice_moment, bonus: int) -> None:
    result = award([BASE, NEW_SKU], [("KSLS-24", 10)], invoice_date=invoice_moment)
    assert result.points == 600 + bonus


def test_naive_invoice_datetime_is_refused() -> None:
    with pytest.raises(ValueError):
        award([BASE], [("KSLS-24", 1)], invoice_date=datetime(2026, 10, 1))


@pytest.mark.parametrize(
    ("rule_fields", "facts", "applies"),
    [
        ({"roles": frozenset({"retailer"})}, BUDI, True),
        ({"roles": frozenset({"distributor", "wholesaler"})}, BUDI, False),
        ({"regions": frozenset({"dki jakarta"})}, BUDI, True),  # case does not matter
        ({"regions": frozenset({"Sumatera Utara"})}, BUDI, False),
        ({"tiers": frozenset({"gold", "platinum"})}, BUDI, True),
        ({"tiers": frozenset({"gold", "platinum"})}, RINA, False),
        ({"roles": frozenset({"retailer"}), "tiers": frozenset({"silver"})}, BUDI, False),
        ({}, RINA, True),
    ],
)
def test_eligibility(rule_fields: dict, facts: PartnerFacts, applies: bool) -> None:
    bonus = RuleSpec("B", RuleKind.SKU_BONUS, "Bonus", "Bonus", params={"points": 7}, **rule_fields)
    assert award([BASE, bonus], [("AMN-24", 1)], facts=facts).points == 10 + (7 if applies else 0)


def test_only_the_first_base_rule_counts() -> None:
    other = RuleSpec("BASE-2", RuleKind.BASE, "Dasar", "Base", priority=200)
    assert summary(award([other, BASE], [("AMN-24", 1)])) == [("BASE", 10)]


def test_display_claims_get_the_display_reward() -> None:
    display = RuleSpec("DISPLAY", RuleKind.DISPLAY, "Foto display toko", "Store display photo",
                       params={"points": 100})  # fmt: skip
    result = award([BASE, TIER, display], [], kind="display", invoice_date=None)
    assert summary(result) == [("DISPLAY", 100)]
    assert result.lines[0].description == {
        "id": "Foto display toko: +100",
        "en": "Store display photo: +100",
    }
    # a sales claim never gets it
    assert award([BASE, display], [("AMN-24", 1)]).points == 10


def test_no_rules_no_points() -> None:
    assert award([], [("KSGA-24", 10)]) == Award(0, ())


@pytest.mark.parametrize(
    ("day", "period", "bounds"),
    [
        (date(2026, 11, 28), "day", (date(2026, 11, 28), date(2026, 11, 28))),
        (date(2026, 11, 28), "week", (date(2026, 11, 23), date(2026, 11, 29))),
        (date(2026, 2, 14), "month", (date(2026, 2, 1), date(2026, 2, 28))),
        (date(2026, 12, 31), "month", (date(2026, 12, 1), date(2026, 12, 31))),
        (date(2026, 11, 28), "quarter", (date(2026, 10, 1), date(2026, 12, 31))),
        (date(2026, 1, 1), "year", (date(2026, 1, 1), date(2026, 12, 31))),
    ],
)
def test_period_bounds(day: date, period: str, bounds: tuple[date, date]) -> None:
    assert earn_rules.period_bounds(day, period) == bounds


@pytest.mark.parametrize(
    ("kind", "params", "ok"),
    [
        (RuleKind.SKU_MULTIPLIER, {"percent": 200}, True),
        (RuleKind.SKU_MULTIPLIER, {"percent": 100}, False),
        (RuleKind.SKU_MULTIPLIER, {"percent": 200, "bonus": 1}, False),
        (RuleKind.UPSELL, {"target_quantity": 50, "period": "month", "bonus": 500}, True),
        (RuleKind.UPSELL, {"target_quantity": 50, "period": "fortnight", "bonus": 500}, False),
        (RuleKind.TIER_MULTIPLIER, {"percent_by_tier": {"gold": 125}}, True),
        (RuleKind.TIER_MULTIPLIER, {"percent_by_tier": {"gold": 1.25}}, False),
        (RuleKind.CLAIM_CAP, {"max_points": True}, False),
        (RuleKind.BASE, {}, True),
    ],
)
def test_validate_params(kind: RuleKind, params: dict, ok: bool) -> None:
    assert (earn_rules.validate_params(kind, params) == []) is ok


# --- against the database: the content files and the ledger ------------------------------


def test_award_for_claim_with_the_content_rules(session: Session) -> None:
    with write_transaction(session):
        tiers.ensure_default_tiers(session)
    load_content(session)
    partner = new_partner(session, region="DKI Jakarta")
    now = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    # Silver (no history): base + new-SKU campaign, no tier bonus
    result = earn_rules.award_for_claim(
        session,
        partner=partner,
        claim_lines=[("KSGA-24", 10), ("KSLS-24", 10)],
        invoice_date=date(2026, 11, 26),
        now=now,
    )
    assert summary(result) == [
        ("BASE", 500),
        ("BASE", 600),
        ("NEW-SKU-KSLS-Q4-2026", 600),
    ]
    # Gold by tier_code: + 25 % of the base
    gold = earn_rules.award_for_claim(
        session,
        partner=partner,
        claim_lines=[("KSGA-24", 10), ("TML-48", 5)],
        invoice_date=date(2026, 11, 26),
        now=now,
        tier_code="gold",
    )
    assert gold.points == 812
    with pytest.raises(UnknownSku):
        earn_rules.award_for_claim(
            session, partner=partner, claim_lines=[("XX-1", 1)], invoice_date=None, now=now
        )
    display = earn_rules.award_for_claim(
        session, partner=partner, claim_lines=[], invoice_date=None, kind="display", now=now
    )
    assert display.points == 100


def test_ledger_history_counts_claim_points_of_the_wib_period(session: Session) -> None:
    partner = new_partner(session)
    history = earn_rules.LedgerClaimHistory(session)

    def credit(points: int, at: datetime, key: str, reason: str = "claim") -> None:
        ledger.earn(
            session,
            partner_id=partner.id,
            points=points,
            reason=reason,
            reference_type="claim" if reason == "claim" else "quiz_attempt",
            reference_id=key,
            idempotency_key=key,
            now=at,
        )

    credit(100, datetime(2026, 10, 31, 16, 59, tzinfo=UTC), "k1")  # 31 Oct 23:59 WIB
    credit(200, datetime(2026, 10, 31, 17, 0, tzinfo=UTC), "k2")  # 1 Nov 00:00 WIB
    credit(300, datetime(2026, 11, 30, 16, 59, tzinfo=UTC), "k3")  # 30 Nov 23:59 WIB
    credit(400, datetime(2026, 11, 30, 17, 0, tzinfo=UTC), "k4")  # 1 Dec
    credit(1000, datetime(2026, 11, 15, tzinfo=UTC), "k5", reason="quiz")  # not a claim
    session.commit()
    assert history.claim_points(partner.id, date(2026, 11, 1), date(2026, 11, 30)) == 500
    assert history.claim_points(partner.id, date(2026, 10, 1), date(2026, 10, 31)) == 100
    other = new_partner(session)
    assert history.claim_points(other.id, date(2026, 11, 1), date(2026, 11, 30)) == 0


def test_ledger_history_asks_the_claims_service_for_quantities(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    calls = []
    fake = types.ModuleType("app.services.claims")
    fake.approved_quantity_in_period = lambda *args: calls.append(args) or 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.services.claims", fake)
    import app.services as services

    monkeypatch.setattr(services, "claims", fake, raising=False)
    history = earn_rules.LedgerClaimHistory(session)
    start, end = date(2026, 11, 1), date(2026, 11, 30)
    assert history.claimed_quantity(7, None, start, end) == 42
    assert calls == [(session, 7, None, start, end)]
    del fake.approved_quantity_in_period
    assert history.claimed_quantity(7, None, start, end) == 0


def test_the_seeded_partners_get_points_by_their_tier(session: Session, seeded: datetime) -> None:
    from app.services import partners

    budi = partners.get_by_wa_id(session, "6281200000001")
    result = earn_rules.award_for_claim(
        session,
        partner=budi,
        claim_lines=[("KSGA-24", 10), ("TML-48", 5)],
        invoice_date=date(2026, 11, 26),
        now=seeded,
    )
    assert summary(result) == [("BASE", 500), ("BASE", 150), ("TIER-MULTIPLIER", 162)]
    assert result.points == 812
    assert timedelta(0) <= seeded - seeded  # seeded is the seed's now
