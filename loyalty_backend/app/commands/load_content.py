"""Load the catalogue, the earn rules and the rewards: ``python -m app.commands.load_content``.

Reads ``content/catalogue.yml``, ``content/earn_rules.yml`` and ``content/rewards.yml``
(repository root, or ``--content-dir``), checks them, and upserts them: products by SKU
(synonyms replaced), rules and rewards by code. A product, rule or reward that is no
longer in its file is deactivated, never deleted: invoices, ERP lines, claims and
redemptions keep referring to it. A reward's ``stock`` is written only when the reward is
first loaded (app/services/rewards.py): loading again never refills it.

``--check`` validates only (no database), for ``make validate``. Every problem is
reported as ``file:line: where: what``; the exit status is 2 when there is any, and then
nothing is written.
"""

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.core.clock import utcnow
from app.core.db import write_transaction
from app.models import EarnRule, Product, ProductSynonym
from app.models.catalogue import RuleKind
from app.models.enums import PartnerRole
from app.schemas.reward import RewardDefinition
from app.services import rewards as reward_service
from app.services.catalogue import normalise_product_text
from app.services.earn_rules import validate_params
from app.services.tiers import DEFAULT_TIERS

CONTENT_DIR = Path(__file__).resolve().parents[3] / "content"
CATALOGUE_FILE = "catalogue.yml"
RULES_FILE = "earn_rules.yml"
REWARDS_FILE = "rewards.yml"
UNITS = ("karton", "dus", "bal")
TIER_CODES = frozenset(code for code, *_ in DEFAULT_TIERS)


# --- YAML that remembers where things were ------------------------------------------------


class Marked(dict[str, Any]):
    """A mapping from YAML, with the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _MarkingLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Marked:  # type: ignore[override]
        mapping = Marked(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {
            str(key.value): key.start_mark.line + 1 for key, _ in node.value if key.value
        }
        return mapping


_MarkingLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _MarkingLoader.construct_mapping
)


@dataclass
class Problems:
    items: list[str] = field(default_factory=list)

    def add(self, path: Path, line: int, where: str, what: str) -> None:
        self.items.append(f"{path}:{line}: {where}: {what}")


def _line_of(item: Marked, key: object) -> int:
    return item.key_lines.get(str(key), item.line) if isinstance(item, Marked) else 0


# --- the shapes -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProductIn(_Strict):
    sku: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")
    name: str = Field(min_length=1, max_length=120)
    short_name: str = Field(min_length=1, max_length=80)
    unit: str
    points_per_unit: int = Field(ge=0, le=100_000, strict=True)
    is_new: bool = False
    active: bool = True
    synonyms: list[str] = Field(default_factory=list)

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        if value not in UNITS:
            raise ValueError(f"must be one of {', '.join(UNITS)}")
        return value

    @field_validator("synonyms")
    @classmethod
    def _synonyms(cls, value: list[str]) -> list[str]:
        for text in value:
            if not text.strip() or len(text) > 120:
                raise ValueError("each synonym must have 1-120 characters")
        return [text.strip() for text in value]


class NameIn(_Strict):
    id: str = Field(min_length=1, max_length=120)
    en: str = Field(min_length=1, max_length=120)


class WindowIn(_Strict):
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class EligibleIn(_Strict):
    roles: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    tiers: list[str] = Field(default_factory=list)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        known = {r.value for r in PartnerRole}
        for role in value:
            if role not in known:
                raise ValueError(f"unknown role {role!r} (one of {', '.join(sorted(known))})")
        return value

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[str]) -> list[str]:
        for tier in value:
            if tier not in TIER_CODES:
                raise ValueError(f"unknown tier {tier!r} (one of {', '.join(sorted(TIER_CODES))})")
        return value


class RuleIn(_Strict):
    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,63}$")
    kind: RuleKind
    name: NameIn
    window: WindowIn = Field(default_factory=WindowIn)
    eligible: EligibleIn = Field(default_factory=EligibleIn)
    skus: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=100, ge=0, le=10_000, strict=True)
    active: bool = True


@dataclass
class Content:
    products: list[ProductIn]
    rules: list[RuleIn]
    rewards: list[RewardDefinition] = field(default_factory=list)


# --- reading and checking --------------------------------------------------------------------


def _load_list(path: Path, key: str, problems: Problems) -> list[Any]:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_MarkingLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        problems.add(path, 0, "file", "not found")
        return []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.add(path, mark.line + 1 if mark else 0, "yaml", str(exc).replace("\n", " "))
        return []
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        problems.add(path, 1, "file", f"must be a mapping with a list under {key!r}")
        return []
    return document[key]


def _validate(model: type[BaseModel], item: Any, path: Path, where: str, problems: Problems) -> Any:
    if not isinstance(item, Marked):
        problems.add(path, 0, where, "must be a mapping")
        return None
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error["loc"]
            field_path = ".".join(str(part) for part in loc)
            line = _line_of(item, loc[0]) if loc else item.line
            problems.add(path, line, f"{where}.{field_path}" if loc else where, error["msg"])
        return None


def _duplicate(
    item: Any, key: str, seen: dict[str, int], path: Path, where: str, problems: Problems
) -> bool:
    """Report a SKU or code already used above (even when that item is otherwise invalid)."""
    if not isinstance(item, Marked) or not isinstance(item.get(key), str):
        return False
    value, line = item[key].strip(), _line_of(item, key)
    if value in seen:
        problems.add(path, line, f"{where}.{key}", f"{value} already on line {seen[value]}")
        return True
    seen[value] = line
    return False


def read_content(content_dir: Path = CONTENT_DIR) -> tuple[Content, list[str]]:
    """The content, and every problem found (``file:line: where: what``)."""
    problems = Problems()
    catalogue_path, rules_path = content_dir / CATALOGUE_FILE, content_dir / RULES_FILE

    products: list[ProductIn] = []
    seen_skus: dict[str, int] = {}
    texts: dict[str, str] = {}
    for n, item in enumerate(_load_list(catalogue_path, "products", problems)):
        where = f"products[{n}]"
        if _duplicate(item, "sku", seen_skus, catalogue_path, where, problems):
            continue
        product = _validate(ProductIn, item, catalogue_path, where, problems)
        if product is None:
            continue
        for text in (product.name, product.short_name, *product.synonyms):
            normal = normalise_product_text(text)
            owner = texts.setdefault(normal, product.sku)
            if not normal:
                problems.add(
                    catalogue_path,
                    _line_of(item, "synonyms"),
                    where,
                    f"{text!r} has no words to match",
                )
            elif owner != product.sku:
                problems.add(
                    catalogue_path,
                    _line_of(item, "synonyms"),
                    f"{where}.synonyms",
                    f"{text!r} also names {owner}: a partner writing it could mean either",
                )
        products.append(product)

    known_skus = set(seen_skus)  # invalid products too: their own problem is reported
    rules: list[RuleIn] = []
    seen_codes: dict[str, int] = {}
    for n, item in enumerate(_load_list(rules_path, "rules", problems)):
        where = f"rules[{n}]"
        if _duplicate(item, "code", seen_codes, rules_path, where, problems):
            continue
        rule = _validate(RuleIn, item, rules_path, where, problems)
        if rule is None:
            continue
        if rule.window.from_ and rule.window.to and rule.window.from_ > rule.window.to:
            problems.add(
                rules_path, _line_of(item, "window"), f"{where}.window", "from is after to"
            )
        unknown = [sku for sku in rule.skus if sku not in known_skus]
        if unknown:
            problems.add(
                rules_path,
                _line_of(item, "skus"),
                f"{where}.skus",
                f"not in the catalogue: {', '.join(unknown)}",
            )
        for message in validate_params(rule.kind, rule.params):
            problems.add(rules_path, _line_of(item, "params"), where, message)
        if rule.kind is RuleKind.TIER_MULTIPLIER and isinstance(
            rule.params.get("percent_by_tier"), dict
        ):
            extra = set(rule.params["percent_by_tier"]) - TIER_CODES
            if extra:
                problems.add(
                    rules_path,
                    _line_of(item, "params"),
                    where,
                    f"unknown tiers: {', '.join(sorted(extra))}",
                )
        rules.append(rule)
    rewards = _read_rewards(content_dir / REWARDS_FILE, problems)
    return Content(products, rules, rewards), problems.items


def _read_rewards(path: Path, problems: Problems) -> list[RewardDefinition]:
    """The rewards of ``rewards.yml``; a name or synonym may name one reward only."""
    found: list[RewardDefinition] = []
    seen_codes: dict[str, int] = {}
    texts: dict[str, str] = {}
    for n, item in enumerate(_load_list(path, "rewards", problems)):
        where = f"rewards[{n}]"
        if _duplicate(item, "code", seen_codes, path, where, problems):
            continue
        reward = _validate(RewardDefinition, item, path, where, problems)
        if reward is None:
            continue
        for text in (reward.name.id, reward.name.en, *reward.synonyms):
            normal = reward_service.normalise_reward_text(text)
            owner = texts.setdefault(normal, reward.code)
            if not normal:
                problems.add(path, _line_of(item, "synonyms"), where, f"{text!r} has no words")
            elif owner != reward.code:
                problems.add(
                    path,
                    _line_of(item, "synonyms"),
                    f"{where}.synonyms",
                    f"{text!r} also names {owner}: a partner writing it could mean either",
                )
        found.append(reward)
    return found


# --- writing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSummary:
    products: int
    rules: int
    deactivated: int  # products, rules and rewards no longer in their files
    rewards: int = 0


def apply_content(session: Session, content: Content) -> LoadSummary:
    """Upsert products (by SKU) and rules (by code); deactivate what the files dropped.

    Joins the caller's write transaction (the seed's) or runs its own.
    """
    now = utcnow()
    deactivated = 0
    with write_transaction(session):
        existing = {
            p.sku: p
            for p in session.scalars(select(Product).options(selectinload(Product.synonyms)))
        }
        for item in content.products:
            product = existing.pop(item.sku, None)
            if product is None:
                product = Product(sku=item.sku)
                session.add(product)
            product.name, product.short_name, product.unit = item.name, item.short_name, item.unit
            product.points_per_unit, product.is_new = item.points_per_unit, item.is_new
            product.active, product.updated_at = item.active, now
            wanted = list(dict.fromkeys(item.synonyms))
            current = {s.text: s for s in product.synonyms}
            product.synonyms = [current.get(text) or ProductSynonym(text=text) for text in wanted]
        for product in existing.values():
            if product.active:
                product.active, product.updated_at = False, now
                deactivated += 1

        rules = {r.code: r for r in session.scalars(select(EarnRule))}
        for item in content.rules:
            rule = rules.pop(item.code, None)
            if rule is None:
                rule = EarnRule(code=item.code)
                session.add(rule)
            rule.kind, rule.name_id, rule.name_en = item.kind.value, item.name.id, item.name.en
            rule.starts_on, rule.ends_on = item.window.from_, item.window.to
            rule.roles, rule.regions = list(item.eligible.roles), list(item.eligible.regions)
            rule.tiers, rule.skus = list(item.eligible.tiers), list(item.skus)
            rule.params, rule.priority = dict(item.params), item.priority
            rule.active, rule.updated_at = item.active, now
        for rule in rules.values():
            if rule.active:
                rule.active, rule.updated_at = False, now
                deactivated += 1
        session.flush()
        loaded = reward_service.apply_content_rewards(session, content.rewards, now)
    return LoadSummary(
        len(content.products),
        len(content.rules),
        deactivated + loaded.deactivated,
        rewards=loaded.rewards,
    )


def load_content(session: Session, content_dir: Path = CONTENT_DIR) -> LoadSummary:
    """Read, check and apply; raises ``ContentError`` (with every problem) when invalid."""
    content, problems = read_content(content_dir)
    if problems:
        raise ContentError(problems)
    return apply_content(session, content)


class ContentError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="validate only, no database")
    parser.add_argument("--content-dir", type=Path, default=CONTENT_DIR)
    args = parser.parse_args(argv)
    content, problems = read_content(args.content_dir)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s): nothing loaded", file=sys.stderr)
        return 2
    if args.check:
        print(
            f"content ok: {len(content.products)} products, {len(content.rules)} rules, "
            f"{len(content.rewards)} rewards"
        )
        return 0
    from app.core.db import get_session_factory  # here: --check needs no database

    with get_session_factory()() as session:
        summary = apply_content(session, content)
    print(
        f"loaded {summary.products} products, {summary.rules} rules, {summary.rewards} "
        f"rewards ({summary.deactivated} deactivated)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
