"""How many points a claim gives: the one place that decides it, and says why.

Rules are data (table ``earn_rule``, loaded from ``content/earn_rules.yml``). Each has a
kind, an active window (inclusive WIB dates, judged on the *invoice* date, so a claim
sent on 1 January for a 31 December invoice still gets December's campaign), an
eligibility (roles, regions, tiers; an empty list means everyone) and a SKU filter
(empty: every SKU). ``compute_award`` evaluates the eligible ones in this fixed order,
every step adding one or more ``RuleLine``s the partner is shown:

1. ``base`` - ``quantity x points_per_unit`` of each product (the first eligible base
   rule only). "10 krt Kopi Susu Gula Aren x 50 = 500" (with a multiplication sign).
2. SKU campaigns - ``sku_multiplier`` adds ``percent - 100`` % of the base points of its
   SKUs (200 = times 2: "+600"); ``sku_bonus`` adds fixed ``points`` per claim (``per:
   claim``, when a line has at least ``min_quantity``) or per unit (``per: unit``). Either
   may carry ``max_points``, a cap on that campaign's bonus per claim.
3. ``upsell`` - a fixed ``bonus`` for the claim that takes the partner's claimed quantity
   of its SKUs in the invoice's calendar ``period`` (month, quarter, ...) from below
   ``target_quantity`` to at least it: once per period, because only one claim can cross.
   Earlier quantities come from ``ClaimHistory.claimed_quantity`` (approved claims).
4. ``tier_multiplier`` - adds ``percent_by_tier[tier] - 100`` % of the *base* points
   (campaign bonuses are not multiplied again, so a campaign costs what was budgeted).
5. ``display`` - a display/activity photo claim's fixed ``points`` (such claims have no
   products, so steps 1-4 give nothing).
6. Caps, last, on the total so far: ``claim_cap`` (``max_points`` per claim) and
   ``period_cap`` (``max_points`` of claim points per partner per calendar ``period``
   of *now*, counting what the ledger already credited for claims in that period, via
   ``ClaimHistory.claim_points``). A cap shows as a negative line ("Batas per klaim: -250").

Percentages are integers and every step rounds down, so points stay integers and the
lines always add up to ``Award.points`` (never below zero).
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_date, wib_end_of_day, wib_start_of_day
from app.models import EarnRule, LedgerEntry, Partner
from app.models.catalogue import RuleKind
from app.models.enums import LedgerReason
from app.services import catalogue, tiers
from app.services.catalogue import ProductView, UnknownSku
from app.services.errors import TiersNotConfigured

log = logging.getLogger("app.services.earn_rules")

TIMES = "\u00d7"  # the multiplication sign on rule lines: "10 krt ... TIMES 50 = 500"
CLAIM_KINDS = frozenset({"sales", "display"})
PERIODS = ("day", "week", "month", "quarter", "year")

# How a unit is abbreviated on a rule line, per language.
UNIT_LABELS = {
    "karton": {"id": "krt", "en": "ctn"},
    "dus": {"id": "dus", "en": "box"},
    "bal": {"id": "bal", "en": "bale"},
}

# Stage of each kind (module docstring); within a stage: priority, then code.
_STAGE = {
    RuleKind.BASE: 1,
    RuleKind.SKU_MULTIPLIER: 2,
    RuleKind.SKU_BONUS: 2,
    RuleKind.UPSELL: 3,
    RuleKind.TIER_MULTIPLIER: 4,
    RuleKind.DISPLAY: 5,
    RuleKind.CLAIM_CAP: 6,
    RuleKind.PERIOD_CAP: 6,
}


@dataclass(frozen=True)
class RuleLine:
    rule_code: str
    points: int
    description: dict[str, str]  # {"id": ..., "en": ...}


@dataclass(frozen=True)
class Award:
    points: int
    lines: tuple[RuleLine, ...]


@dataclass(frozen=True)
class RuleSpec:
    """An earn rule as the evaluation sees it (from a row, or built directly in tests)."""

    code: str
    kind: RuleKind
    name_id: str
    name_en: str
    starts_on: date | None = None
    ends_on: date | None = None
    roles: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    skus: frozenset[str] = frozenset()
    params: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 100

    @classmethod
    def from_model(cls, rule: EarnRule) -> "RuleSpec":
        return cls(
            code=rule.code,
            kind=RuleKind(rule.kind),
            name_id=rule.name_id,
            name_en=rule.name_en,
            starts_on=rule.starts_on,
            ends_on=rule.ends_on,
            roles=frozenset(rule.roles or ()),
            regions=frozenset(rule.regions or ()),
            tiers=frozenset(rule.tiers or ()),
            skus=frozenset(rule.skus or ()),
            params=dict(rule.params or {}),
            priority=rule.priority,
        )


@dataclass(frozen=True)
class PartnerFacts:
    """What eligibility looks at."""

    partner_id: int
    role: str
    region: str
    tier: str | None  # tier code; None when tiers are not configured


class ClaimHistory(Protocol):
    """What earlier claims add up to, for upsell targets and period caps."""

    def claim_points(self, partner_id: int, start: date, end: date) -> int:
        """Points credited for claims, on WIB dates ``start``..``end`` inclusive."""
        ...

    def claimed_quantity(
        self, partner_id: int, skus: frozenset[str] | None, start: date, end: date
    ) -> int:
        """Units in approved claims with invoice dates ``start``..``end`` (of ``skus``)."""
        ...


class LedgerClaimHistory:
    """The default history: claim points from the ledger; quantities from the claims service.

    Points: the sum of the partner's ``ledger_entry`` rows with reason and reference type
    ``claim`` created on those WIB dates (it needs nothing from the claim tables).
    Quantities: ``app.services.claims.approved_quantity_in_period`` when the claims
    service provides it (imported lazily: claims imports this module), else 0.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def claim_points(self, partner_id: int, start: date, end: date) -> int:
        total = self.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
                LedgerEntry.partner_id == partner_id,
                LedgerEntry.reason == LedgerReason.CLAIM.value,
                LedgerEntry.reference_type == "claim",
                LedgerEntry.delta > 0,
                LedgerEntry.created_at >= wib_start_of_day(start),
                LedgerEntry.created_at <= wib_end_of_day(end),
            )
        )
        return int(total or 0)

    def claimed_quantity(
        self, partner_id: int, skus: frozenset[str] | None, start: date, end: date
    ) -> int:
        try:
            from app.services import claims  # here: claims imports earn_rules
        except ImportError:  # pragma: no cover - the claims service is always there
            return 0
        provider = getattr(claims, "approved_quantity_in_period", None)
        if provider is None:
            log.warning("claims.approved_quantity_in_period missing: upsell counts 0")
            return 0
        return int(provider(self.session, partner_id, skus, start, end))


# --- small helpers ---------------------------------------------------------------------


def period_bounds(day: date, period: str) -> tuple[date, date]:
    """First and last date of the calendar ``period`` (day/week/month/quarter/year) of ``day``."""
    if period == "day":
        return day, day
    if period == "week":  # Monday..Sunday
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period == "month":
        start = day.replace(day=1)
    elif period == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    elif period == "year":
        start = date(day.year, 1, 1)
    else:
        raise ValueError(f"unknown period {period!r}")
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    year, month = divmod(start.month - 1 + months, 12)
    return start, date(start.year + year, month + 1, 1) - timedelta(days=1)


def fmt_points(value: int, language: str) -> str:
    """1250 -> "1.250" (id) / "1,250" (en)."""
    text = f"{value:,}"
    return text.replace(",", ".") if language == "id" else text


def fmt_percent(percent: int, language: str) -> str:
    """125 -> "1,25" (id) / "1.25" (en); 200 -> "2"."""
    text = f"{percent / 100:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "id" else text


def _unit(unit: str, language: str) -> str:
    return UNIT_LABELS.get(unit, {}).get(language, unit)


def _both(make: Any) -> dict[str, str]:
    return {"id": make("id"), "en": make("en")}


def _as_wib_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a datetime invoice date must be timezone-aware")
        return wib_date(value)
    return value


def is_eligible(rule: RuleSpec, facts: PartnerFacts, day: date) -> bool:
    """In the window on ``day`` (a WIB date) and for this partner's role, region and tier."""
    if rule.starts_on is not None and day < rule.starts_on:
        return False
    if rule.ends_on is not None and day > rule.ends_on:
        return False
    if rule.roles and facts.role not in rule.roles:
        return False
    if rule.regions and facts.region.casefold() not in {r.casefold() for r in rule.regions}:
        return False
    return not (rule.tiers and facts.tier not in rule.tiers)


# --- evaluation ------------------------------------------------------------------------


def compute_award(
    rules: Sequence[RuleSpec],
    products: Mapping[str, ProductView],
    *,
    facts: PartnerFacts,
    claim_lines: Sequence[tuple[str, int]],
    invoice_date: date | datetime | None,
    kind: str,
    now: datetime,
    history: ClaimHistory,
) -> Award:
    """The award of one claim (module docstring); pure given its inputs and ``history``."""
    if kind not in CLAIM_KINDS:
        raise ValueError(f"unknown claim kind {kind!r}")
    day = _as_wib_date(invoice_date) if invoice_date is not None else wib_date(now)
    quantities: dict[str, int] = {}
    for sku, quantity in claim_lines:
        sku = sku.strip().upper()
        if sku not in products:
            raise UnknownSku(sku)
        if quantity <= 0:
            raise ValueError(f"quantity of {sku} must be positive")
        quantities[sku] = quantities.get(sku, 0) + quantity

    ordered = sorted(
        (r for r in rules if is_eligible(r, facts, day)),
        key=lambda r: (_STAGE[r.kind], r.priority, r.code),
    )
    lines: list[RuleLine] = []
    base: dict[str, int] = {}
    base_done = display_done = False
    for rule in ordered:
        matched = [s for s in quantities if not rule.skus or s in rule.skus]
        if kind == "sales" and rule.kind is RuleKind.BASE and not base_done:
            base_done = True
            for sku in matched:
                product, quantity = products[sku], quantities[sku]
                base[sku] = quantity * product.points_per_unit
                lines.append(
                    RuleLine(
                        rule.code,
                        base[sku],
                        _both(
                            lambda lang, p=product, q=quantity, s=sku: (
                                f"{fmt_points(q, lang)} {_unit(p.unit, lang)} {p.display_name}"
                                f" {TIMES} {fmt_points(p.points_per_unit, lang)}"
                                f" = {fmt_points(base[s], lang)}"
                            )
                        ),
                    )
                )
        elif kind == "sales" and rule.kind is RuleKind.SKU_MULTIPLIER:
            extra = sum(base.get(s, 0) for s in matched) * (rule.params["percent"] - 100) // 100
            _add(lines, rule, _capped(extra, rule), _product_names(rule, matched, products))
        elif kind == "sales" and rule.kind is RuleKind.SKU_BONUS:
            minimum = rule.params.get("min_quantity", 1)
            hits = [s for s in matched if quantities[s] >= minimum]
            if rule.params.get("per", "claim") == "unit":
                extra = rule.params["points"] * sum(quantities[s] for s in hits)
            else:
                extra = rule.params["points"] if hits else 0
            _add(lines, rule, _capped(extra, rule), _product_names(rule, hits, products))
        elif kind == "sales" and rule.kind is RuleKind.UPSELL:
            here = sum(quantities[s] for s in matched)
            if here:
                start, end = period_bounds(day, rule.params["period"])
                before = history.claimed_quantity(facts.partner_id, rule.skus or None, start, end)
                target = rule.params["target_quantity"]
                if before < target <= before + here:
                    _add(lines, rule, rule.params["bonus"])
        elif kind == "sales" and rule.kind is RuleKind.TIER_MULTIPLIER:
            percent = rule.params["percent_by_tier"].get(facts.tier or "", 100)
            extra = sum(base.values()) * (percent - 100) // 100
            if extra > 0:
                tier_name = (facts.tier or "").capitalize()
                lines.append(
                    RuleLine(
                        rule.code,
                        extra,
                        _both(
                            lambda lang, pc=percent, tn=tier_name, x=extra: (
                                f"{tn} {TIMES}{fmt_percent(pc, lang)}: +{fmt_points(x, lang)}"
                            )
                        ),
                    )
                )
        elif kind == "display" and rule.kind is RuleKind.DISPLAY and not display_done:
            display_done = True
            _add(lines, rule, rule.params["points"])
        elif rule.kind is RuleKind.CLAIM_CAP:
            total = sum(line.points for line in lines)
            _add(lines, rule, -max(0, total - rule.params["max_points"]))
        elif rule.kind is RuleKind.PERIOD_CAP:
            total = sum(line.points for line in lines)
            if total > 0:
                start, end = period_bounds(wib_date(now), rule.params["period"])
                room = max(
                    0,
                    rule.params["max_points"] - history.claim_points(facts.partner_id, start, end),
                )
                _add(lines, rule, -max(0, total - room))
    return Award(points=max(0, sum(line.points for line in lines)), lines=tuple(lines))


def _capped(points: int, rule: RuleSpec) -> int:
    cap = rule.params.get("max_points")
    return points if cap is None else min(points, cap)


def _product_names(rule: RuleSpec, skus: Sequence[str], products: Mapping[str, ProductView]) -> str:
    # Named only when the rule is about some SKUs: "Bonus SKU baru (Kopi Susu Less Sugar)".
    if not rule.skus or not skus:
        return ""
    return " (" + ", ".join(products[s].display_name for s in skus) + ")"


def _add(lines: list[RuleLine], rule: RuleSpec, points: int, suffix: str = "") -> None:
    if points == 0:
        return
    sign = "+" if points > 0 else "-"
    lines.append(
        RuleLine(
            rule.code,
            points,
            {
                "id": f"{rule.name_id}{suffix}: {sign}{fmt_points(abs(points), 'id')}",
                "en": f"{rule.name_en}{suffix}: {sign}{fmt_points(abs(points), 'en')}",
            },
        )
    )


def load_rules(session: Session) -> list[RuleSpec]:
    """The active rules."""
    rows = session.scalars(select(EarnRule).where(EarnRule.active.is_(True)))
    return [RuleSpec.from_model(r) for r in rows]


def partner_facts(
    session: Session, partner: Partner, now: datetime, tier_code: str | None = None
) -> PartnerFacts:
    if tier_code is None:
        try:
            tier_code = tiers.progress(session, partner.id, now).current.code
        except TiersNotConfigured:
            tier_code = None
    return PartnerFacts(partner.id, partner.role, partner.region, tier_code)


def award_for_claim(
    session: Session,
    *,
    partner: Partner,
    claim_lines: Sequence[tuple[str, int]],
    invoice_date: date | datetime | None,
    kind: str = "sales",
    now: datetime | None = None,
    history: ClaimHistory | None = None,
    tier_code: str | None = None,
) -> Award:
    """The points ``partner`` earns for this claim, and which rule gave what.

    Reads the active rules, the products of the claim and the partner's current tier
    (unless ``tier_code`` is given); ``history`` defaults to ``LedgerClaimHistory``.
    Raises ``catalogue.UnknownSku`` for a SKU that is not in the catalogue.
    """
    now = now or utcnow()
    products = catalogue.get_products(session, (sku for sku, _ in claim_lines))
    return compute_award(
        load_rules(session),
        products,
        facts=partner_facts(session, partner, now, tier_code),
        claim_lines=claim_lines,
        invoice_date=invoice_date,
        kind=kind,
        now=now,
        history=history or LedgerClaimHistory(session),
    )


# --- validation of rule data (used by app/commands/load_content.py) ------------------


def _int(params: Mapping[str, Any], key: str, minimum: int, errors: list[str]) -> None:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        errors.append(f"params.{key} must be an integer >= {minimum}")


def _period(params: Mapping[str, Any], errors: list[str]) -> None:
    if params.get("period") not in PERIODS:
        errors.append(f"params.period must be one of {', '.join(PERIODS)}")


def validate_params(kind: RuleKind, params: Mapping[str, Any]) -> list[str]:
    """What is wrong with a rule's params for its kind (empty when fine)."""
    errors: list[str] = []
    allowed: set[str] = set()
    if kind is RuleKind.SKU_MULTIPLIER:
        allowed = {"percent", "max_points"}
        _int(params, "percent", 101, errors)
    elif kind is RuleKind.SKU_BONUS:
        allowed = {"points", "per", "min_quantity", "max_points"}
        _int(params, "points", 1, errors)
        if params.get("per", "claim") not in ("claim", "unit"):
            errors.append("params.per must be claim or unit")
        if "min_quantity" in params:
            _int(params, "min_quantity", 1, errors)
    elif kind is RuleKind.UPSELL:
        allowed = {"target_quantity", "period", "bonus"}
        _int(params, "target_quantity", 1, errors)
        _int(params, "bonus", 1, errors)
        _period(params, errors)
    elif kind is RuleKind.TIER_MULTIPLIER:
        allowed = {"percent_by_tier"}
        table = params.get("percent_by_tier")
        if not isinstance(table, dict) or not table:
            errors.append(
                "params.percent_by_tier must map tier codes to percents (125: 1.25 times)"
            )
        else:
            for tier, percent in table.items():
                if isinstance(percent, bool) or not isinstance(percent, int) or percent < 100:
                    errors.append(f"params.percent_by_tier.{tier} must be an integer >= 100")
    elif kind is RuleKind.DISPLAY:
        allowed = {"points"}
        _int(params, "points", 1, errors)
    elif kind is RuleKind.CLAIM_CAP:
        allowed = {"max_points"}
        _int(params, "max_points", 0, errors)
    elif kind is RuleKind.PERIOD_CAP:
        allowed = {"max_points", "period"}
        _int(params, "max_points", 0, errors)
        _period(params, errors)
    if "max_points" in params and kind in (RuleKind.SKU_MULTIPLIER, RuleKind.SKU_BONUS):
        _int(params, "max_points", 0, errors)
    errors.extend(
        f"params.{key} is not a parameter of {kind}" for key in params if key not in allowed
    )
    return errors
