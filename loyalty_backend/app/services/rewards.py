"""Reward definitions: loading and upserting them, their labels, and matching partners' words.

Rewards are data. ``content/rewards.yml`` holds the program's rewards
(``app/commands/load_content.py`` upserts them by code, ``source = 'content'``); admins
add or change rewards through ``POST /admin/rewards`` (``upsert_reward``). The loader
owns the rewards its file lists: a change an admin makes to one of them lasts until the
file is loaded again, and a content reward that leaves the file is deactivated, never
deleted (redemptions keep pointing at it). Rewards created through the API
(``source = 'admin'``) are never touched by the loader.

``stock`` in the file is the starting stock: it is written when the reward is first
loaded, and afterwards only redemptions (down), cancellations (back up) and the admin
API change it, so loading the file again (every ``make db``) never refills a shelf.

Partners name rewards their own way: "pulsa", "voucher 50rb", "voucher 50 ribu",
"kaos", "tv". ``match_score`` compares normalised texts (``normalise_reward_text``:
lower case, amounts written one way: "Rp50.000", "50rb", "50 ribu", "50k" and "50" all
become ``50000``) with rapidfuzz, against the reward's names, synonyms and kind labels.
A query naming an amount never matches a reward that names only other amounts, so
"voucher 50rb" does not offer the Rp100.000 voucher.
"""

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import write_transaction
from app.models import Reward
from app.models.reward import RedemptionStatus, RewardKind, RewardSource
from app.services import audit
from app.services.catalogue import text_score
from app.services.errors import RewardNotFound

if TYPE_CHECKING:  # the schema imports this module
    from app.schemas.reward import RewardDefinition

log = logging.getLogger("app.services.rewards")

Text = dict[str, str]  # {"id": ..., "en": ...}

KIND_LABELS: dict[str, Text] = {
    RewardKind.EWALLET: {"id": "E-wallet/pulsa", "en": "E-wallet/pulsa"},
    RewardKind.VOUCHER: {"id": "Voucher belanja", "en": "Shopping vouchers"},
    RewardKind.MERCHANDISE: {"id": "Merchandise", "en": "Merchandise"},
    RewardKind.BUSINESS_SUPPLY: {"id": "Perlengkapan usaha", "en": "Business supplies"},
    RewardKind.CASHBACK: {"id": "Cashback", "en": "Cashback"},
}
STATUS_LABELS: dict[str, Text] = {
    RedemptionStatus.REQUESTED: {"id": "Sedang diproses", "en": "Being processed"},
    RedemptionStatus.FULFILLED: {"id": "Selesai", "en": "Completed"},
    RedemptionStatus.SHIPPED: {"id": "Dalam pengiriman", "en": "Shipped"},
    RedemptionStatus.DELIVERED: {"id": "Sudah diterima", "en": "Delivered"},
    RedemptionStatus.CANCELLED: {
        "id": "Dibatalkan, poin dikembalikan",
        "en": "Cancelled, points refunded",
    },
}

MIN_SCORE = 60.0  # below this a reward is not a match for the partner's words
AMOUNT_MISMATCH_SCORE = 40.0  # a query's amount that the reward does not name


def kind_label(kind: str) -> Text:
    return dict(KIND_LABELS[kind])


def status_label(status: str) -> Text:
    return dict(STATUS_LABELS[status])


# --- reading ----------------------------------------------------------------------------


def normal_code(code: str) -> str:
    """A reward code as stored: ``" vcr-50k"`` -> ``"VCR-50K"``."""
    return code.strip().upper()


def get_reward(session: Session, code: str) -> Reward:
    """The reward with this code (any state), or RewardNotFound."""
    reward = session.scalars(select(Reward).where(Reward.code == normal_code(code))).one_or_none()
    if reward is None:
        raise RewardNotFound()
    return reward


def list_rewards(session: Session, *, include_inactive: bool = True) -> list[Reward]:
    query = select(Reward).order_by(Reward.kind, Reward.cost, Reward.code)
    if not include_inactive:
        query = query.where(Reward.active.is_(True))
    return list(session.scalars(query))


# --- writing ----------------------------------------------------------------------------


def _fields(definition: "RewardDefinition") -> dict[str, Any]:
    """Column values of a definition, except ``stock`` (see the module docstring)."""
    window, limit = definition.window, definition.limit
    return {
        "kind": definition.kind.value,
        "name_id": definition.name.id,
        "name_en": definition.name.en,
        "description_id": definition.description.id,
        "description_en": definition.description.en,
        "cost": definition.cost,
        "tiers": list(definition.eligible.tiers),
        "roles": list(definition.eligible.roles),
        "regions": list(definition.eligible.regions),
        "limit_count": limit.count if limit else None,
        "limit_period": limit.period.value if limit else None,
        "starts_on": window.from_ if window else None,
        "ends_on": window.to if window else None,
        "image_url": definition.image_url,
        "synonyms": list(definition.synonyms),
        "active": definition.active,
    }


def _changes(reward: Reward, wanted: dict[str, Any]) -> dict[str, list[Any]]:
    """``{column: [before, after]}`` for the columns ``wanted`` changes (JSON-ready)."""
    found = {}
    for column, value in wanted.items():
        before = getattr(reward, column)
        if before != value:
            found[column] = [_jsonable(before), _jsonable(value)]
    return found


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def upsert_reward(
    session: Session,
    definition: "RewardDefinition",
    *,
    actor: str,
    now: datetime | None = None,
) -> tuple[Reward, bool]:
    """Create or update a reward by code (admin API); returns it and whether it is new.

    ``stock`` is set as given (null: unlimited). Audited as ``reward.create`` or
    ``reward.update`` with what changed.
    """
    now = now or utcnow()
    with write_transaction(session):
        reward = session.scalars(
            select(Reward).where(Reward.code == definition.code).with_for_update()
        ).one_or_none()
        wanted = {**_fields(definition), "stock": definition.stock}
        created = reward is None
        if reward is None:
            reward = Reward(code=definition.code, source=RewardSource.ADMIN.value, created_at=now)
            session.add(reward)
            changes = {column: [None, _jsonable(value)] for column, value in wanted.items()}
        else:
            changes = _changes(reward, wanted)
        for column, value in wanted.items():
            setattr(reward, column, value)
        reward.updated_at = now
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="reward.create" if created else "reward.update",
            entity="reward",
            entity_id=reward.code,
            details={"changes": changes},
            now=now,
        )
    log.info("reward saved", extra={"reward": reward.code, "new_reward": created, "actor": actor})
    return reward, created


@dataclass(frozen=True)
class ContentRewardsSummary:
    rewards: int
    deactivated: int


def apply_content_rewards(
    session: Session, definitions: Sequence["RewardDefinition"], now: datetime
) -> ContentRewardsSummary:
    """Upsert the file's rewards and deactivate content rewards it no longer lists.

    Runs inside the caller's write transaction (the loader's). Stock is written only
    when a reward is created (module docstring).
    """
    existing = {r.code: r for r in session.scalars(select(Reward))}
    for definition in definitions:
        wanted = _fields(definition)
        reward = existing.pop(definition.code, None)
        if reward is None:
            reward = Reward(code=definition.code, stock=definition.stock, created_at=now)
            session.add(reward)
        elif reward.source == RewardSource.CONTENT.value and not _changes(reward, wanted):
            continue  # unchanged: keep its updated_at
        elif reward.kind != definition.kind.value:
            reward.stock = definition.stock  # another kind of thing: its own stock
        for column, value in wanted.items():
            setattr(reward, column, value)
        reward.source = RewardSource.CONTENT.value
        reward.updated_at = now
    deactivated = 0
    for reward in existing.values():
        if reward.source == RewardSource.CONTENT.value and reward.active:
            reward.active, reward.updated_at = False, now
            deactivated += 1
    session.flush()
    return ContentRewardsSummary(len(definitions), deactivated)


# --- matching the partner's words --------------------------------------------------------

# "Rp 50.000", "50.000", "50,000", "50000", "50rb", "50 ribu", "50k", "1,5 jt", "1 juta", "50"
_RUPIAH = re.compile(r"\brp\.?\s*(?=\d)")
_AMOUNT = re.compile(r"\b(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?)\s*(rb|ribu|k|jt|juta)?\b")
_MULTIPLIER = {"rb": 1000, "ribu": 1000, "k": 1000, "jt": 1_000_000, "juta": 1_000_000}
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _amount(match: re.Match[str]) -> str:
    digits, unit = match.group(1), match.group(2)
    if unit:
        value = float(digits.replace(",", "."))
        return f" {round(value * _MULTIPLIER[unit])} "
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", digits):  # thousands separators
        return f" {int(re.sub(r'[.,]', '', digits))} "
    number = float(digits.replace(",", "."))
    # Partners write "voucher 50" for Rp50.000: a bare number below 1000 is thousands.
    return f" {round(number * 1000) if number < 1000 else round(number)} "


@lru_cache(maxsize=4096)
def normalise_reward_text(text: str) -> str:
    """Lower case, words only, amounts as plain rupiah numbers (module docstring)."""
    lowered = text.lower().replace("e-wallet", "ewallet").replace("t-shirt", "tshirt")
    lowered = _AMOUNT.sub(_amount, _RUPIAH.sub(" ", lowered))
    return " ".join(_NON_WORD.sub(" ", lowered).split())


def _amounts(text: str) -> set[str]:
    return {word for word in text.split() if word.isdigit()}


def reward_texts(reward: Reward) -> set[str]:
    """What a reward is known by, normalised: code, names, synonyms, kind labels."""
    label = KIND_LABELS.get(reward.kind, {})
    texts = [
        reward.code.replace("-", " "),
        reward.name_id,
        reward.name_en,
        *(reward.synonyms or ()),
        *label.values(),
    ]
    return {t for t in (normalise_reward_text(x) for x in texts if x) if t}


def match_score(query: str, reward: Reward) -> float:
    """How well the partner's words name this reward, 0..100."""
    normal = normalise_reward_text(query)
    if not normal:
        return 0.0
    texts = reward_texts(reward)
    score = max((text_score(normal, text) for text in texts), default=0.0)
    wanted = _amounts(normal)
    named = set().union(*(_amounts(text) for text in texts)) if texts else set()
    if wanted and named and not wanted & named:
        score = min(score, AMOUNT_MISMATCH_SCORE)
    return round(score, 1)


def rank_by_query(rewards: Iterable[Reward], query: str) -> list[tuple[Reward, float]]:
    """The rewards that ``query`` may name (score >= MIN_SCORE), best first."""
    scored = [(reward, match_score(query, reward)) for reward in rewards]
    return sorted(
        ((reward, score) for reward, score in scored if score >= MIN_SCORE),
        key=lambda pair: -pair[1],
    )
