import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands import load_content
from app.models import EarnRule, Product, Reward
from app.services import catalogue


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(load_content.CONTENT_DIR, folder)
    return folder


def test_the_repository_content_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_content.main(["--check"]) == 0
    assert "content ok: 8 products, 8 rules, 7 rewards" in capsys.readouterr().out


def test_load_upserts_and_deactivates(session: Session, content: Path) -> None:
    first = load_content.load_content(session, content)
    assert (first.products, first.rules, first.deactivated) == (8, 8, 0)
    assert load_content.load_content(session, content).deactivated == 0  # idempotent

    catalogue_file = content / "catalogue.yml"
    text = catalogue_file.read_text()
    # drop K3S-50 (no rule names it) and change a points value and a synonym
    text = text[: text.index("  - sku: K3S-50")] + text[text.index("  - sku: AMN-24") :]
    text = text.replace("points_per_unit: 50", "points_per_unit: 55")
    text = text.replace("      - gula aren\n", "      - aren\n")
    catalogue_file.write_text(text)
    rules_file = content / "earn_rules.yml"
    rules = rules_file.read_text()
    rules_file.write_text(rules.replace("UPSELL-50-KRT-MONTH", "UPSELL-60-KRT-MONTH"))
    rules_file.write_text(
        rules_file.read_text().replace("target_quantity: 50", "target_quantity: 60")
    )
    summary = load_content.load_content(session, content)
    # K3S-50 and the old upsell rule are deactivated, not deleted
    assert summary.deactivated == 2
    session.expire_all()
    sachet = session.scalars(select(Product).where(Product.sku == "K3S-50")).one()
    assert sachet.active is False
    assert "K3S-50" not in {p.sku for p in catalogue.list_products(session)}
    ksga = catalogue.get_products(session, ["KSGA-24"])["KSGA-24"]
    assert ksga.points_per_unit == 55
    assert "aren" in ksga.synonyms and "gula aren" not in ksga.synonyms
    codes = dict(session.execute(select(EarnRule.code, EarnRule.active)).all())
    assert codes["UPSELL-50-KRT-MONTH"] is False and codes["UPSELL-60-KRT-MONTH"] is True


def _problems(content: Path, catalogue_text: str | None = None, rules_text: str | None = None):
    if catalogue_text is not None:
        (content / "catalogue.yml").write_text(catalogue_text)
    if rules_text is not None:
        (content / "earn_rules.yml").write_text(rules_text)
    return load_content.read_content(content)[1]


def test_problems_are_reported_by_file_and_line(content: Path) -> None:
    catalogue_text = """products:
  - sku: KSGA-24
    name: Kopi Susu Gula Aren 24 x 200 ml
    short_name: Kopi Susu Gula Aren
    unit: crate
    points_per_unit: -5
    synonyms: [kopi susu]
  - sku: KSGA-24
    name: Again
    short_name: Again
    unit: karton
    points_per_unit: 1
  - sku: TML-48
    name: Teh Melati
    short_name: Teh Melati
    unit: karton
    points_per_unit: 30
    colour: green
    synonyms: [kopi susu]
"""
    rules_text = """rules:
  - code: BASE
    kind: base
    name: {id: Poin dasar, en: Base points}
  - code: BAD
    kind: sku_multiplier
    name: {id: X, en: X}
    window: {from: 2026-12-31, to: 2026-10-01}
    skus: [NOPE-1]
    params: {percent: 50}
  - code: BASE
    kind: base
    name: {id: Lagi, en: Again}
  - code: TIERS
    kind: tier_multiplier
    name: {id: T, en: T}
    eligible: {roles: [king], tiers: [diamond]}
    params: {percent_by_tier: {gold: 125, bronze: 110}}
  - code: WHAT
    kind: lottery
    name: {id: W, en: W}
"""
    problems = _problems(content, catalogue_text, rules_text)
    cat, rul = content / "catalogue.yml", content / "earn_rules.yml"
    expected = [
        f"{cat}:5: products[0].unit: Value error, must be one of karton, dus, bal",
        f"{cat}:6: products[0].points_per_unit: Input should be greater than or equal to 0",
        f"{cat}:8: products[1].sku: KSGA-24 already on line 2",
        f"{cat}:18: products[2].colour: Extra inputs are not permitted",
        f"{rul}:8: rules[1].window: from is after to",
        f"{rul}:9: rules[1].skus: not in the catalogue: NOPE-1",
        f"{rul}:10: rules[1]: params.percent must be an integer >= 101",
        f"{rul}:11: rules[2].code: BASE already on line 2",
        f"{rul}:17: rules[3].eligible.roles: Value error, unknown role 'king' "
        "(one of distributor, field_seller, retailer, wholesaler)",
        f"{rul}:17: rules[3].eligible.tiers: Value error, unknown tier 'diamond' "
        "(one of gold, platinum, silver)",
        f"{rul}:20: rules[4].kind: Input should be 'base', 'sku_multiplier', 'sku_bonus', "
        "'upsell', 'tier_multiplier', 'display', 'claim_cap' or 'period_cap'",
    ]
    for line in expected:
        assert line in problems, (line, problems)
    # product 2 is invalid (extra field), so its synonym clash is not reached; check it alone
    clash = _problems(
        content,
        catalogue_text.replace("    colour: green\n", "")
        .replace("unit: crate", "unit: karton")
        .replace("points_per_unit: -5", "points_per_unit: 5"),
        "rules: []\n",
    )
    assert (
        f"{cat}:18: products[2].synonyms: 'kopi susu' also names KSGA-24: a partner "
        "writing it could mean either" in clash
    )


def test_tier_multiplier_names_known_tiers(content: Path) -> None:
    rules = """rules:
  - code: TIERS
    kind: tier_multiplier
    name: {id: T, en: T}
    params: {percent_by_tier: {gold: 125, bronze: 110}}
"""
    assert _problems(content, rules_text=rules) == [
        f"{content / 'earn_rules.yml'}:5: rules[0]: unknown tiers: bronze"
    ]


def test_yaml_syntax_errors_have_a_line(content: Path) -> None:
    problems = _problems(content, "products:\n  - sku: [unclosed\n")
    assert problems and problems[0].startswith(f"{content / 'catalogue.yml'}:3: yaml:")
    problems = _problems(content, "- just a list\n")
    assert (
        f"{content / 'catalogue.yml'}:1: file: must be a mapping with a list under 'products'"
        in problems
    )


def test_invalid_content_exits_2_and_loads_nothing(
    session: Session, content: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (content / "earn_rules.yml").write_text("rules:\n  - code: XX\n    kind: base\n")
    assert load_content.main(["--check", "--content-dir", str(content)]) == 2
    err = capsys.readouterr().err
    assert "earn_rules.yml:2: rules[0].name: Field required" in err
    assert "1 problem(s): nothing loaded" in err
    with pytest.raises(load_content.ContentError):
        load_content.load_content(session, content)
    assert session.scalars(select(Product)).all() == []
    missing = content / "nowhere"
    assert load_content.main(["--check", "--content-dir", str(missing)]) == 2


def test_reward_problems_are_reported_by_file_and_line(content: Path) -> None:
    rewards_text = """rewards:
  - code: PULSA-25K
    kind: ewallet
    name: {id: Pulsa, en: Phone credit}
    description: {id: Pulsa., en: Credit.}
    cost: 10
    synonyms: [pulsa]
  - code: PULSA-25K
    kind: ewallet
    name: {id: Lagi, en: Again}
    description: {id: X., en: X.}
    cost: 10
  - code: VCR-X
    kind: voucher
    name: {id: Voucher, en: Voucher}
    description: {id: X., en: X.}
    cost: 10
    stock: 5
  - code: BIKE
    kind: vehicle
    name: {id: Motor, en: Motorbike}
    description: {id: X., en: X.}
    cost: 0
    eligible: {tiers: [diamond], roles: [king]}
    limit: {count: 1, period: decade}
    window: {from: 2026-12-31, to: 2026-01-01}
  - code: KAOS
    kind: merchandise
    name: {id: Kaos, en: T-shirt}
    description: {id: X., en: X.}
    cost: 10
    synonyms: [Pulsa]
"""
    (content / "rewards.yml").write_text(rewards_text)
    problems = load_content.read_content(content)[1]
    rew = content / "rewards.yml"
    expected = [
        f"{rew}:8: rewards[1].code: PULSA-25K already on line 2",
        f"{rew}:13: rewards[2]: Value error, a voucher reward's stock is its pool of codes",
        f"{rew}:20: rewards[3].kind: Input should be 'ewallet', 'voucher', 'merchandise', "
        "'business_supply' or 'cashback'",
        f"{rew}:23: rewards[3].cost: Input should be greater than or equal to 1",
        f"{rew}:24: rewards[3].eligible.tiers: Value error, unknown tier 'diamond'",
        f"{rew}:24: rewards[3].eligible.roles: Value error, unknown role 'king'",
        f"{rew}:25: rewards[3].limit.period: Input should be 'day', 'week', 'month', "
        "'quarter' or 'year'",
        f"{rew}:26: rewards[3].window: Value error, from is after to",
        f"{rew}:32: rewards[4].synonyms: 'Pulsa' also names PULSA-25K",
    ]
    for line in expected:
        assert any(problem.startswith(line) for problem in problems), (line, problems)
    assert load_content.main(["--check", "--content-dir", str(content)]) == 2


def test_rewards_file_is_required(content: Path) -> None:
    (content / "rewards.yml").unlink()
    problems = load_content.read_content(content)[1]
    assert problems == [f"{content / 'rewards.yml'}:0: file: not found"]


def test_rewards_are_loaded_and_deactivated(session: Session, content: Path) -> None:
    first = load_content.load_content(session, content)
    assert first.rewards == 7
    rewards_file = content / "rewards.yml"
    text = rewards_file.read_text()
    rewards_file.write_text(text[: text.index("  - code: TV-43")])
    summary = load_content.load_content(session, content)
    assert (summary.rewards, summary.deactivated) == (6, 1)
    session.expire_all()
    tv = session.scalars(select(Reward).where(Reward.code == "TV-43")).one()
    assert tv.active is False and tv.stock == 3
