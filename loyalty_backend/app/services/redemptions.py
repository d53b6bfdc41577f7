"""Redemptions: the one place that says who may redeem what, and what happens then.

Who may redeem a reward (``rewards_for_partner``, ``reward_for_partner`` and ``redeem``
all ask the same functions):

- the reward is ``active`` and today (WIB) is inside its window (else ``not_active``);
- the partner's tier, role and region are in its eligibility lists (an empty list is
  everyone; else ``not_eligible``). The tier is the partner's current tier
  (app/services/tiers.py), computed only for rewards that name tiers;
- it is in stock (``out_of_stock``): goods by ``reward.stock`` (NULL: unlimited), a
  voucher by the codes left in its pool (app/services/vouchers.py);
- the partner has redeemed it fewer than ``limit_count`` times (cancelled redemptions
  not counted) in the current WIB calendar ``limit_period`` (``limit_reached``);
- the balance covers the cost (``insufficient_points``, with ``points_short``);
- goods (merchandise, business supplies) have a delivery address: the one sent with the
  request (saved as the partner's address) or the partner's address on file
  (``address_required``).

``redeem`` checks them in this order, the first failure answering: status, active
(refused as ``not_eligible``: the API's refusals have no ``not_active``), eligibility,
limit, points, address, stock. So a partner who cannot pay is never asked for an address.

``redeem`` is one transaction. It locks the partner's ``points_account`` row first
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers run one at a time, BEGIN
IMMEDIATE), so the replay check and the per-period count are exact for that partner.
Then it stores the redemption (numbered ``RDM-000123`` from its row id), spends the
points through the ledger (key ``redemption:<redemption_no>``; lots soonest-expiring
first) and only then takes stock: ``UPDATE reward SET stock = stock - 1 WHERE stock > 0``
for goods, one voucher code for a voucher. This keeps the ledger's lock order (account
row, lots, then stock or voucher rows), so concurrent redemptions cannot deadlock; a
redemption that finds no stock rolls back with its spend. On PostgreSQL that transaction
is one round trip: the server-side function ``mitra_redeem`` (alembic 0009) does the
mechanics (lock, replay, balance, address, spend, stock, rows, audit) and returns what it
found of the partner and the reward; ``_redeem_in_database`` then judges the rules above
on that, in the same transaction and the same order, and a refusal rolls the call back.
So the rules are only here. On SQLite ``_redeem_locked`` runs the transaction statement
by statement. The tests run on both and compare the rows written.

The same idempotency key again (same partner, same reward) answers with the first
redemption (``created=False``), also when two requests race: the key is UNIQUE. The same
key for another partner or reward is ``RedemptionKeyConflict``.

What happens next depends on the kind:

- voucher: ``fulfilled`` at once, with its code and the code's expiry;
- ewallet, cashback: ``requested``; after the commit the payout provider is asked
  (app/services/fulfilment.py): ``fulfilled`` when paid, cancelled (and refunded) when
  the provider refuses;
- merchandise, business_supply: ``requested``, then ``shipped`` (courier and tracking
  number) and ``delivered``, as an admin records them.

Allowed status changes (anything else is ``InvalidTransition``, 409):

- voucher: ``fulfilled`` -> ``cancelled``;
- ewallet, cashback: ``requested`` -> ``fulfilled`` | ``cancelled``; ``fulfilled`` is
  final (the money has moved);
- goods: ``requested`` -> ``shipped`` | ``cancelled``; ``shipped`` -> ``delivered`` |
  ``cancelled`` (it came back); ``delivered`` is final.

Cancelling refunds the points as a NEW lot (ledger reason ``refund``, key
``refund:<redemption_no>``, so a refund happens once). **The refund lot expires at the
latest expiry among the lots the redemption consumed, but never sooner than 30 days
after the refund** (``REFUND_MIN_DAYS``): a partner never loses refunded points sooner
than the points they spent would have gone, and always has a month to use them. Goods
go back into stock; an issued voucher code is voided (it was shown to the partner, so
it is never issued again).

The partner is told of each later change (issue 21, app/services/notifications.py):
``redemption_fulfilled`` (a payout that settled after the redeem answered, or an admin),
``redemption_shipped`` (with courier and tracking number), ``redemption_delivered`` and
``redemption_cancelled`` (with the refunded points), queued in the transaction that makes
the change, once per redemption and status. What ``redeem`` itself answers (a voucher's
code, a payout the provider settled at once) is told in the chat, so it queues nothing.

Every change is audited (``redemption.create``, ``redemption.refused``,
``redemption.update``, ``redemption.cancel``, ``redemption.payout``, and the ledger's own
rows).
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.core.clock import utcnow, wib_date, wib_end_of_day, wib_start_of_day
from app.core.db import in_write_transaction, write_transaction
from app.core.logging import mask_wa_id
from app.models import LotConsumption, Partner, PointsAccount, PointsLot, Redemption, Reward
from app.models.enums import LedgerReason, PartnerStatus
from app.models.reward import (
    GOODS_KINDS,
    KIND_ORDER,
    PAYOUT_KINDS,
    RedemptionStatus,
    RewardKind,
)
from app.services import (
    audit,
    fulfilment,
    ledger,
    notifications,
    partners,
    rewards,
    tiers,
    vouchers,
)
from app.services.earn_rules import fmt_points, period_bounds
from app.services.errors import (
    InsufficientPoints,
    InvalidRedemption,
    InvalidTransition,
    PartnerLeft,
    PartnerNotFound,
    PartnerSuspended,
    RedemptionKeyConflict,
    RedemptionNotFound,
    RedemptionRefused,
    RewardNotFound,
    TiersNotConfigured,
)
from app.services.ledger import KeyNamespace

log = logging.getLogger("app.services.redemptions")

REDEMPTION_NO_PREFIX = "RDM-"
REFUND_MIN_DAYS = 30
PAYOUT_ACTOR = "system:payouts"
MAX_ADDRESS_CHARS = 300

Text = dict[str, str]  # {"id": ..., "en": ...}

S = RedemptionStatus
_ALLOWED: dict[str, dict[str, frozenset[str]]] = {
    RewardKind.VOUCHER: {S.FULFILLED: frozenset({S.CANCELLED})},
    RewardKind.EWALLET: {S.REQUESTED: frozenset({S.FULFILLED, S.CANCELLED})},
    RewardKind.CASHBACK: {S.REQUESTED: frozenset({S.FULFILLED, S.CANCELLED})},
    RewardKind.MERCHANDISE: {
        S.REQUESTED: frozenset({S.SHIPPED, S.CANCELLED}),
        S.SHIPPED: frozenset({S.DELIVERED, S.CANCELLED}),
    },
    RewardKind.BUSINESS_SUPPLY: {
        S.REQUESTED: frozenset({S.SHIPPED, S.CANCELLED}),
        S.SHIPPED: frozenset({S.DELIVERED, S.CANCELLED}),
    },
}


def redemption_no_for(redemption_id: int) -> str:
    """``RDM-000123``: from the row id, so unique without a sequence of its own."""
    return f"{REDEMPTION_NO_PREFIX}{redemption_id:06d}"


def allowed_transitions(kind: str, status: str) -> frozenset[str]:
    """The statuses a redemption of this kind may move to from ``status``."""
    return _ALLOWED.get(kind, {}).get(status, frozenset())


@dataclass(frozen=True)
class Unavailability:
    code: str  # not_active, not_eligible, out_of_stock, limit_reached, insufficient_points
    description: Text
    detail: str  # for the API's "detail" and logs (English, not for partners)


@dataclass(frozen=True)
class RewardRules:
    """The reward's columns the rules read, as ``mitra_redeem`` found them (the rules
    also take a ``Reward`` row)."""

    id: int
    code: str
    active: bool
    starts_on: date | None
    ends_on: date | None
    tiers: list[str]
    roles: list[str]
    regions: list[str]
    limit_count: int | None
    limit_period: str | None


@dataclass(frozen=True)
class RewardView:
    """A reward as one partner sees it now."""

    reward: Reward
    points_short: int  # 0 when the balance covers the cost
    stock_left: int | None  # None: unlimited
    unavailable: Unavailability | None


@dataclass(frozen=True)
class RewardCatalogue:
    balance: int
    expiring_soon_points: int
    expiring_soon_date: date | None
    total: int
    limit: int
    offset: int
    items: list[RewardView]


@dataclass(frozen=True)
class Receipt:
    """A redemption as the partner is told about it (the API's body, the bot's answer)."""

    redemption_id: int
    redemption_no: str
    reward_code: str
    reward_name: Text
    kind: str
    status: str
    points_spent: int
    balance_after: int
    voucher_code: str | None
    voucher_expires_at: datetime | None
    delivery_address: str | None
    courier: str | None
    tracking_no: str | None
    refunded_points: int | None
    note: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, redemption: Redemption) -> "Receipt":
        reward, code = redemption.reward, redemption.voucher_code
        return cls(
            redemption_id=redemption.id,
            redemption_no=str(redemption.redemption_no),
            reward_code=reward.code,
            reward_name={"id": reward.name_id, "en": reward.name_en},
            kind=redemption.kind,
            status=redemption.status,
            points_spent=redemption.points_spent,
            balance_after=redemption.balance_after,
            voucher_code=code.code if code else None,
            voucher_expires_at=code.expires_at if code else None,
            delivery_address=redemption.delivery_address,
            courier=redemption.courier,
            tracking_no=redemption.tracking_no,
            refunded_points=redemption.refunded_points,
            note=redemption.note,
            created_at=redemption.created_at,
            updated_at=redemption.updated_at,
        )


@dataclass(frozen=True)
class RedeemResult:
    """What ``redeem`` answers. ``receipt`` is built without reading the row again (on
    PostgreSQL from ``mitra_redeem``'s own answer); ``redemption`` loads the row through
    the session that redeemed (so only while that session is open)."""

    receipt: Receipt
    created: bool  # False: the idempotency key was used before; this is that redemption
    session: Session = field(repr=False, compare=False)

    @classmethod
    def of(cls, session: Session, redemption: Redemption, created: bool) -> "RedeemResult":
        return cls(Receipt.of(redemption), created, session)

    @property
    def redemption(self) -> Redemption:
        found = self.session.get(Redemption, self.receipt.redemption_id)
        assert found is not None
        return found


@dataclass(frozen=True)
class RetryRun:
    attempted: int
    fulfilled: int
    pending: int
    cancelled: int
    still_requested: int  # the provider failed again (or the outcome could not be stored)


# --- partner-facing texts --------------------------------------------------------------------

_MONTHS_ID = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
    "September", "Oktober", "November", "Desember",
)  # fmt: skip
_ROLE_NAMES: dict[str, Text] = {
    "distributor": {"id": "distributor", "en": "distributors"},
    "wholesaler": {"id": "grosir", "en": "wholesalers"},
    "retailer": {"id": "toko/pengecer", "en": "retailers"},
    "field_seller": {"id": "tenaga penjual lapangan", "en": "field sellers"},
}
_THIS_PERIOD: dict[str, Text] = {
    "day": {"id": "hari ini", "en": "today"},
    "week": {"id": "minggu ini", "en": "this week"},
    "month": {"id": "bulan ini", "en": "this month"},
    "quarter": {"id": "kuartal ini", "en": "this quarter"},
    "year": {"id": "tahun ini", "en": "this year"},
}


def _day(day: date) -> Text:
    return {
        "id": f"{day.day} {_MONTHS_ID[day.month - 1]} {day.year}",
        "en": f"{day.day} {day:%B} {day.year}",
    }


def _joined(words: Sequence[str], conjunction: str) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _both(words_id: Sequence[str], words_en: Sequence[str]) -> Text:
    return {"id": _joined(words_id, "dan"), "en": _joined(words_en, "and")}


def _not_active(reward: Reward | RewardRules, today: date) -> Unavailability | None:
    if not reward.active:
        return Unavailability(
            "not_active",
            {
                "id": "Hadiah ini sedang tidak tersedia.",
                "en": "This reward is not available at the moment.",
            },
            "reward not active",
        )
    if reward.starts_on is not None and today < reward.starts_on:
        when = _day(reward.starts_on)
        return Unavailability(
            "not_active",
            {
                "id": f"Hadiah ini baru bisa ditukar mulai {when['id']}.",
                "en": f"This reward can be redeemed from {when['en']}.",
            },
            f"reward not active before {reward.starts_on.isoformat()}",
        )
    if reward.ends_on is not None and today > reward.ends_on:
        return Unavailability(
            "not_active",
            {
                "id": "Periode penukaran hadiah ini sudah berakhir.",
                "en": "This reward can no longer be redeemed.",
            },
            f"reward not active after {reward.ends_on.isoformat()}",
        )
    return None


@dataclass(frozen=True)
class _Facts:
    """What eligibility looks at."""

    role: str
    region: str
    tier: str | None  # None when no reward needs it, or tiers are not configured


def _tier_for(session: Session, partner_id: int, now: datetime) -> str | None:
    try:
        return tiers.progress(session, partner_id, now).current.code
    except TiersNotConfigured:
        return None


def _facts(
    session: Session, partner: Partner, now: datetime, candidates: Sequence[Reward]
) -> _Facts:
    tier = None
    if any(reward.tiers for reward in candidates):
        tier = _tier_for(session, partner.id, now)
    return _Facts(partner.role, partner.region, tier)


def _not_eligible(reward: Reward | RewardRules, facts: _Facts) -> Unavailability | None:
    if reward.tiers and facts.tier not in reward.tiers:
        names = [code.capitalize() for code in reward.tiers]
        text = _both(names, names)
        return Unavailability(
            "not_eligible",
            {
                "id": f"Hadiah ini khusus mitra tier {text['id']}.",
                "en": f"This reward is only for {text['en']} partners.",
            },
            f"reward only for tiers {', '.join(reward.tiers)}",
        )
    if reward.roles and facts.role not in reward.roles:
        names = [_ROLE_NAMES.get(role, {"id": role, "en": role}) for role in reward.roles]
        text = _both([n["id"] for n in names], [n["en"] for n in names])
        return Unavailability(
            "not_eligible",
            {
                "id": f"Hadiah ini khusus untuk {text['id']}.",
                "en": f"This reward is only for {text['en']}.",
            },
            f"reward only for roles {', '.join(reward.roles)}",
        )
    if reward.regions and facts.region.casefold() not in {r.casefold() for r in reward.regions}:
        text = _both(reward.regions, reward.regions)
        return Unavailability(
            "not_eligible",
            {
                "id": f"Hadiah ini hanya untuk mitra di {text['id']}.",
                "en": f"This reward is only for partners in {text['en']}.",
            },
            f"reward only for regions {', '.join(reward.regions)}",
        )
    return None


def _out_of_stock() -> Unavailability:
    return Unavailability(
        "out_of_stock",
        {
            "id": "Stok hadiah ini sedang habis.",
            "en": "This reward is out of stock at the moment.",
        },
        "out of stock",
    )


def _insufficient(short: int) -> Unavailability:
    return Unavailability(
        "insufficient_points",
        {
            "id": f"Poin Anda kurang {fmt_points(short, 'id')} poin untuk hadiah ini.",
            "en": f"You need {fmt_points(short, 'en')} more points for this reward.",
        },
        "insufficient points",
    )


def _limit_reached(reward: Reward | RewardRules, again_on: date) -> Unavailability:
    count, period = reward.limit_count or 0, reward.limit_period or "month"
    when, this = _day(again_on), _THIS_PERIOD[period]
    times_en = "once" if count == 1 else f"{count} times"
    return Unavailability(
        "limit_reached",
        {
            "id": f"Anda sudah menukar hadiah ini {count} kali {this['id']}. "
            f"Bisa ditukar lagi mulai {when['id']}.",
            "en": f"You have already redeemed this reward {times_en} {this['en']}. "
            f"You can redeem it again from {when['en']}.",
        },
        f"limit of {count} per {period} reached",
    )


_ADDRESS_REQUIRED: Text = {
    "id": "Hadiah ini dikirim ke alamat Anda. Mohon kirim alamat pengiriman lengkap "
    "(jalan, nomor, kelurahan, kota, kode pos) terlebih dahulu.",
    "en": "This reward is shipped to you. Please send your full delivery address "
    "(street, number, district, city, postcode) first.",
}


def _refused(problem: Unavailability, points_short: int | None = None) -> RedemptionRefused:
    return RedemptionRefused(
        problem.detail,
        code=problem.code,
        description=problem.description,
        points_short=points_short,
    )


# --- limits and stock --------------------------------------------------------------------------


def _limit_problem(
    session: Session,
    partner_id: int,
    reward: Reward | RewardRules,
    now: datetime,
    *,
    excluding: int | None = None,
) -> Unavailability | None:
    """``limit_reached`` when the partner used up the reward's limit for this period
    (``excluding``: the redemption this transaction is making)."""
    if not reward.limit_count or not reward.limit_period:
        return None
    start, end = period_bounds(wib_date(now), reward.limit_period)
    query = (
        select(func.count())
        .select_from(Redemption)
        .where(
            Redemption.partner_id == partner_id,
            Redemption.reward_id == reward.id,
            Redemption.status != RedemptionStatus.CANCELLED.value,
            Redemption.created_at >= wib_start_of_day(start),
            Redemption.created_at <= wib_end_of_day(end),
        )
    )
    if excluding is not None:
        query = query.where(Redemption.id != excluding)
    used = session.scalar(query)
    if (used or 0) < reward.limit_count:
        return None
    return _limit_reached(reward, end + timedelta(days=1))


def stock_left(
    session: Session, candidates: Sequence[Reward], now: datetime | None = None
) -> dict[int, int]:
    """Units (goods) or codes (vouchers) left, by reward id, for the rewards that are
    not unlimited."""
    pools = vouchers.pool_sizes(
        session, (r.id for r in candidates if r.kind == RewardKind.VOUCHER), now or utcnow()
    )
    found = dict(pools)
    for reward in candidates:
        if reward.kind != RewardKind.VOUCHER and reward.stock is not None:
            found[reward.id] = reward.stock
    return found


# --- the catalogue as a partner sees it --------------------------------------------------------


def _view(
    session: Session,
    partner_id: int,
    reward: Reward,
    balance: int,
    stock_left: int | None,
    first_problem: Unavailability | None,
    now: datetime,
) -> RewardView:
    short = max(reward.cost - balance, 0)
    problem = first_problem
    if problem is None and stock_left is not None and stock_left <= 0:
        problem = _out_of_stock()
    if problem is None:
        problem = _limit_problem(session, partner_id, reward, now)
    if problem is None and short:
        problem = _insufficient(short)
    return RewardView(reward, short, stock_left, problem)


def _kind_rank(reward: Reward) -> int:
    return KIND_ORDER.index(RewardKind(reward.kind))


def rewards_for_partner(
    session: Session,
    partner: Partner,
    *,
    kind: str | None = None,
    q: str | None = None,
    limit: int = 9,
    offset: int = 0,
    now: datetime | None = None,
) -> RewardCatalogue:
    """The rewards this partner may redeem (tier, role, region, active window), by kind
    (``KIND_ORDER``) then cost; with ``q`` only those the words may name, best first.
    Out-of-stock, over-the-limit and unaffordable ones stay in, saying so."""
    now = now or utcnow()
    points = ledger.balance(session, partner.id, now)  # sweeps expired lots first
    today = wib_date(now)
    candidates = [
        reward
        for reward in rewards.list_rewards(session, include_inactive=False)
        if (kind is None or reward.kind == kind) and _not_active(reward, today) is None
    ]
    facts = _facts(session, partner, now, candidates)
    eligible = [reward for reward in candidates if _not_eligible(reward, facts) is None]
    if q and q.strip():
        ranked = rewards.rank_by_query(eligible, q)
        ranked.sort(key=lambda pair: (-pair[1], _kind_rank(pair[0]), pair[0].cost, pair[0].code))
        ordered = [reward for reward, _ in ranked]
    else:
        ordered = sorted(eligible, key=lambda r: (_kind_rank(r), r.cost, r.code))
    page = ordered[offset : offset + limit]
    stock = stock_left(session, page, now)
    items = [
        _view(session, partner.id, r, points.available_points, stock.get(r.id), None, now)
        for r in page
    ]
    return RewardCatalogue(
        balance=points.available_points,
        expiring_soon_points=points.expiring_soon_points,
        expiring_soon_date=wib_date(points.expiring_soon_at) if points.expiring_soon_at else None,
        total=len(ordered),
        limit=limit,
        offset=offset,
        items=items,
    )


def reward_for_partner(
    session: Session, partner: Partner, code: str, *, now: datetime | None = None
) -> RewardView:
    """One reward as this partner sees it, also one they may not redeem (``unavailable``
    says why). RewardNotFound for an unknown code."""
    now = now or utcnow()
    reward = rewards.get_reward(session, code)
    balance = ledger.balance(session, partner.id, now).available_points
    problem = _not_active(reward, wib_date(now)) or _not_eligible(
        reward, _facts(session, partner, now, [reward])
    )
    stock = stock_left(session, [reward], now)
    return _view(session, partner.id, reward, balance, stock.get(reward.id), problem, now)


# --- redeeming ---------------------------------------------------------------------------------


@dataclass
class _Attempt:
    """Who and what a redemption attempt is about, once known (for the refusal's audit
    row and for a racing request's replay)."""

    partner_id: int | None = None
    reward_id: int | None = None


def redeem(
    session: Session,
    wa_id: str,
    *,
    reward_code: str,
    idempotency_key: str,
    delivery_address: str | None = None,
    actor: str = "service",
    now: datetime | None = None,
) -> RedeemResult:
    """Redeem a reward for the partner with this WhatsApp id (module docstring): one
    transaction, then, for an e-wallet or cashback reward, the payout request.

    Raises PartnerNotFound, RewardNotFound, RedemptionRefused (409:
    ``insufficient_points`` with ``points_short``, ``out_of_stock``, ``not_eligible``,
    ``limit_reached``, ``address_required``), RedemptionKeyConflict (the key was used for
    another partner or reward), PartnerSuspended / PartnerLeft, InvalidRedemption
    (address too long).
    """
    if in_write_transaction(session):
        raise RuntimeError("redeem commits before it asks for a payout: call it outside")
    now = now or utcnow()
    address = _clean_address(delivery_address)
    code = rewards.normal_code(reward_code)
    attempt = _Attempt()
    try:
        with write_transaction(session):
            if session.get_bind().dialect.name == "postgresql":
                result = _redeem_in_database(
                    session, wa_id, code, idempotency_key, address, actor, now, attempt
                )
            else:
                partner = partners.get_by_wa_id(session, wa_id)
                reward = rewards.get_reward(session, code)
                attempt.partner_id, attempt.reward_id = partner.id, reward.id
                result = _redeem_locked(
                    session, partner.id, reward, idempotency_key, address, actor, now
                )
    except IntegrityError:
        # A racing request with the same key committed first (the key is UNIQUE).
        existing = _by_key(session, idempotency_key)
        if existing is None or attempt.partner_id is None or attempt.reward_id is None:
            raise
        result = _replayed(session, existing, attempt.partner_id, attempt.reward_id)
    except RedemptionRefused as refused:
        if attempt.partner_id is not None:
            _audit_refusal(session, attempt.partner_id, code, refused, idempotency_key, actor, now)
        raise
    receipt = result.receipt
    if result.created:
        log.info(
            "reward redeemed",
            extra={
                "redemption_no": receipt.redemption_no,
                "reward": code,
                "wa_id": mask_wa_id(wa_id),
                "status": receipt.status,
            },
        )
    if receipt.kind in PAYOUT_KINDS and receipt.status == RedemptionStatus.REQUESTED.value:
        redemption = result.redemption
        if _awaits_payout_request(redemption):
            # A replay finds it still unpaid when the first attempt failed: ask again (the
            # provider is idempotent per redemption_no).
            redemption = request_payout(session, redemption.id, actor=actor, notify=False)
            result = RedeemResult.of(session, redemption, result.created)
    return result


def _check_rules(
    session: Session,
    partner_id: int,
    reward: Reward | RewardRules,
    facts: Callable[[], _Facts],
    now: datetime,
    *,
    excluding: int | None = None,
) -> None:
    """The rules a redemption is refused by before its points are looked at, in the
    module docstring's order: active, eligible, limit (``excluding``: the redemption this
    transaction is making). ``facts`` is asked only for an active reward."""
    inactive = _not_active(reward, wib_date(now))
    if inactive is not None:
        # The contract's refusals name no "not_active": it is one way of not being
        # eligible now (the description says which).
        raise RedemptionRefused(
            inactive.detail, code="not_eligible", description=inactive.description
        )
    problem = _not_eligible(reward, facts()) or _limit_problem(
        session, partner_id, reward, now, excluding=excluding
    )
    if problem is not None:
        raise _refused(problem)


def _clean_address(value: str | None) -> str | None:
    if value is None:
        return None
    line = " ".join(value.split())
    if len(line) > MAX_ADDRESS_CHARS:
        raise InvalidRedemption(f"delivery_address is longer than {MAX_ADDRESS_CHARS} characters")
    return line or None


def _lock_account(session: Session, partner_id: int, now: datetime) -> tuple[str, int]:
    """Lock the partner's points account row (first, as the ledger does); the partner's
    status and the account's balance (which may still hold points due to expire)."""
    query = (
        select(Partner.status, PointsAccount.balance)
        .join(PointsAccount, PointsAccount.partner_id == Partner.id)
        .where(Partner.id == partner_id)
        .with_for_update(of=PointsAccount)
    )
    row = session.execute(query).one_or_none()
    if row is None:
        if session.get(Partner, partner_id) is None:
            raise PartnerNotFound()
        ledger.ensure_account(session, partner_id, now)
        row = session.execute(query).one()
    return str(row.status), int(row.balance)


def _insufficient_refusal(
    session: Session, partner_id: int, cost: int, now: datetime
) -> RedemptionRefused:
    """``insufficient_points`` with what is missing once due points have expired."""
    ledger.expire_due_lots(session, now, partner_id=partner_id)  # joins this transaction
    balance = session.scalar(
        select(PointsAccount.balance).where(PointsAccount.partner_id == partner_id)
    )
    short = cost - int(balance or 0)
    return _refused(_insufficient(short), points_short=short)


def _redeem_locked(
    session: Session,
    partner_id: int,
    reward: Reward,
    key: str,
    address: str | None,
    actor: str,
    now: datetime,
) -> RedeemResult:
    status, balance = _lock_account(session, partner_id, now)
    existing = session.scalars(
        select(Redemption).where(Redemption.idempotency_key == key)
    ).one_or_none()
    if existing is not None:
        return _replayed(session, existing, partner_id, reward.id)
    if status == PartnerStatus.SUSPENDED:
        raise PartnerSuspended()
    if status == PartnerStatus.LEFT:
        raise PartnerLeft()
    partner = session.get(Partner, partner_id)
    assert partner is not None
    _check_rules(session, partner_id, reward, lambda: _facts(session, partner, now, [reward]), now)
    if balance < reward.cost:  # short even before expired points are swept
        raise _insufficient_refusal(session, partner_id, reward.cost, now)

    redemption = Redemption(
        partner_id=partner_id,
        reward=reward,
        kind=reward.kind,
        status=RedemptionStatus.REQUESTED.value,
        points_spent=reward.cost,
        balance_after=0,  # set below, once the points are spent
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )
    session.add(redemption)
    session.flush()  # the id (and the UNIQUE key, against a racing request)
    number = redemption_no_for(redemption.id)
    try:
        entry = ledger.spend(
            session,
            partner_id=partner_id,
            points=reward.cost,
            reason=LedgerReason.REDEMPTION.value,
            reference_type="redemption",
            reference_id=number,
            idempotency_key=f"{KeyNamespace.REDEMPTION.value}{number}",
            key_owner=KeyNamespace.REDEMPTION,
            description=f"Redeemed: {reward.name_en} ({number})"[:200],
            now=now,
            actor=actor,
            caller_checked=True,  # account locked, partner active, key from the new row
        ).entry
    except InsufficientPoints:  # points past their expiry were swept by the spend
        raise _insufficient_refusal(session, partner_id, reward.cost, now) from None
    # Written with the rest below, in one UPDATE at the commit (same transaction).
    redemption.redemption_no = number
    # The address after the points: a partner who cannot pay is never asked for one.
    redemption.delivery_address = _ship_to(session, partner, reward, address, actor, now)
    stock_left = _take_stock(session, reward, redemption, now)
    redemption.balance_after = entry.balance_after
    redemption.ledger_entry_id = entry.id
    audit.record(
        session,
        actor=actor,
        action="redemption.create",
        entity="redemption",
        entity_id=number,
        details={
            "partner_id": partner_id,
            "reward": reward.code,
            "kind": reward.kind,
            "status": redemption.status,
            "points": reward.cost,
            "balance_after": entry.balance_after,
            "ledger_entry_id": entry.id,
            "voucher_code_id": redemption.voucher_code_id,
            "stock_left": stock_left,
            "idempotency_key": key,
        },
        now=now,
    )
    return RedeemResult.of(session, redemption, created=True)


_REDEEM_IN_DATABASE = (
    "SELECT * FROM mitra_redeem(%(wa_id)s, %(reward_code)s, %(key)s, %(actor)s, %(now)s, "
    "%(address)s)"
)


def _call_mitra_redeem(session: Session, params: dict[str, object]) -> Any:
    """One call of ``mitra_redeem`` in the session's transaction, through the driver's
    own cursor: the statement never changes, and SQLAlchemy's statement and result
    handling would add about 0.2 ms of CPU to a call that costs 0.3 ms on its own
    (measured for issue 18's bench; the row comes back as a named tuple all the same)."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(_REDEEM_IN_DATABASE, params)
        return cursor.fetchone()


def _redeem_in_database(
    session: Session,
    wa_id: str,
    code: str,
    key: str,
    address: str | None,
    actor: str,
    now: datetime,
    attempt: _Attempt,
) -> RedeemResult:
    """``_redeem_locked`` on PostgreSQL: one call of ``mitra_redeem`` (alembic 0009).

    The function does the mechanics under the account lock (replay, balance, address,
    spend, stock, rows, audit) and returns what it found; the rules are judged here, on
    that, in the module docstring's order, inside the same transaction: a refusal rolls
    back whatever the call wrote. So a redemption is one round trip, and the rules still
    live only in this module (bench/README.md, issue 18).
    """
    params: dict[str, object] = {
        "wa_id": wa_id,
        "reward_code": code,
        "key": key,
        "actor": actor,
        "now": now,
        "address": address,
    }
    row = _call_mitra_redeem(session, params)
    if row.outcome in ("no_account", "sweep"):
        # Rare: a partner without an account row, or points past their expiry (not
        # spendable; swept in this transaction, as ledger.spend does). Then once more.
        if row.outcome == "no_account":
            ledger.ensure_account(session, row.out_partner_id, now)
        else:
            ledger.expire_due_lots(session, now, partner_id=row.out_partner_id)
        row = _call_mitra_redeem(session, params)
    outcome = row.outcome
    if outcome == "no_partner":
        raise PartnerNotFound()
    if outcome == "no_reward":
        raise RewardNotFound()
    partner_id = attempt.partner_id = row.out_partner_id
    attempt.reward_id = row.out_reward_id
    if outcome == "replay":
        existing = session.get(Redemption, row.out_redemption_id)
        assert existing is not None
        return _replayed(session, existing, partner_id, row.out_reward_id)
    if row.out_partner_status == PartnerStatus.SUSPENDED:
        raise PartnerSuspended()
    if row.out_partner_status == PartnerStatus.LEFT:
        raise PartnerLeft()
    reward = RewardRules(
        id=row.out_reward_id,
        code=code,
        active=row.out_reward_active,
        starts_on=row.out_reward_starts_on,
        ends_on=row.out_reward_ends_on,
        tiers=row.out_reward_tiers or [],
        roles=row.out_reward_roles or [],
        regions=row.out_reward_regions or [],
        limit_count=row.out_reward_limit_count,
        limit_period=row.out_reward_limit_period,
    )
    _check_rules(
        session,
        partner_id,
        reward,
        lambda: _Facts(
            row.out_partner_role,
            row.out_partner_region,
            _tier_for(session, partner_id, now) if reward.tiers else None,
        ),
        now,
        excluding=row.out_redemption_id,
    )
    if outcome == "insufficient_points":
        short = row.out_reward_cost - int(row.out_balance)
        raise _refused(_insufficient(short), points_short=short)
    if outcome == "address_required":
        raise _address_required()
    if outcome == "out_of_stock":
        raise _refused(_out_of_stock())
    if outcome != "created":
        raise RuntimeError(f"mitra_redeem answered {outcome!r}")
    receipt = Receipt(
        redemption_id=row.out_redemption_id,
        redemption_no=row.out_redemption_no,
        reward_code=code,
        reward_name={"id": row.out_reward_name_id, "en": row.out_reward_name_en},
        kind=row.out_reward_kind,
        status=row.out_redemption_status,
        points_spent=row.out_reward_cost,
        balance_after=int(row.out_balance),
        voucher_code=row.out_voucher_code,
        voucher_expires_at=row.out_voucher_expires_at,
        delivery_address=row.out_delivery_address,
        courier=None,
        tracking_no=None,
        refunded_points=None,
        note=None,
        created_at=now,
        updated_at=now,
    )
    return RedeemResult(receipt, created=True, session=session)


def _ship_to(
    session: Session,
    partner: Partner,
    reward: Reward,
    address: str | None,
    actor: str,
    now: datetime,
) -> str | None:
    """Save a given address as the partner's (audited); goods ship to it, or to the one on
    file, and without either are refused (``address_required``)."""
    if address is not None and address != partner.address:
        audit.record(
            session,
            actor=actor,
            action="partner.set_address",
            entity="partner",
            entity_id=partner.id,
            details={"from": partner.address, "to": address},
            now=now,
        )
        partner.address = address
    if reward.kind not in GOODS_KINDS:
        return None
    if not partner.address:
        raise _address_required()
    return partner.address


def _address_required() -> RedemptionRefused:
    return RedemptionRefused(
        "delivery address required", code="address_required", description=_ADDRESS_REQUIRED
    )


def _take_stock(
    session: Session, reward: Reward, redemption: Redemption, now: datetime
) -> int | None:
    """One unit or one code for this redemption (after the spend: lock order), or
    RedemptionRefused ``out_of_stock``. Returns what is left (None: not counted)."""
    if reward.kind == RewardKind.VOUCHER:
        issued = vouchers.take_code(session, reward.id, redemption.id, now)
        if issued is None:
            raise _refused(_out_of_stock())
        redemption.voucher_code_id = issued.id
        redemption.status = RedemptionStatus.FULFILLED.value
        return None
    if reward.stock is None:
        return None  # unlimited
    left = session.scalar(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock > 0)
        .values(stock=Reward.stock - 1)
        .returning(Reward.stock)
        .execution_options(synchronize_session=False)
    )
    if left is None:
        raise _refused(_out_of_stock())
    set_committed_value(reward, "stock", left)
    return int(left)


def _by_key(session: Session, key: str) -> Redemption | None:
    session.commit()  # read what racing requests committed
    return session.scalars(
        select(Redemption)
        .where(Redemption.idempotency_key == key)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _replayed(
    session: Session, existing: Redemption, partner_id: int, reward_id: int
) -> RedeemResult:
    if existing.partner_id != partner_id or existing.reward_id != reward_id:
        raise RedemptionKeyConflict()
    return RedeemResult.of(session, existing, created=False)


def _awaits_payout_request(redemption: Redemption) -> bool:
    return (
        redemption.kind in PAYOUT_KINDS
        and redemption.status == RedemptionStatus.REQUESTED.value
        and redemption.payout_ref is None
    )


def _audit_refusal(
    session: Session,
    partner_id: int,
    reward_code: str,
    refused: RedemptionRefused,
    key: str,
    actor: str,
    now: datetime,
) -> None:
    """A refused redemption is not stored, but the attempt is in the audit trail."""
    try:
        with write_transaction(session):
            audit.record(
                session,
                actor=actor,
                action="redemption.refused",
                entity="partner",
                entity_id=partner_id,
                details={
                    "reward": reward_code,
                    "code": refused.code,
                    "points_short": refused.points_short,
                    "idempotency_key": key,
                },
                now=now,
            )
    except Exception:  # the refusal itself must still reach the caller
        log.exception("auditing a refused redemption failed", extra={"reward": reward_code})


# --- fulfilment and cancellation ---------------------------------------------------------------


def _lock(session: Session, where: object) -> Redemption:
    """Lock one redemption row (``where``: a condition on Redemption) and load it fresh."""
    redemption_id = session.scalar(select(Redemption.id).where(where).with_for_update())  # type: ignore[arg-type]
    if redemption_id is None:
        raise RedemptionNotFound()
    redemption = session.get(Redemption, redemption_id, populate_existing=True)
    assert redemption is not None
    return redemption


def _check_transition(redemption: Redemption, target: str) -> None:
    if target not in allowed_transitions(redemption.kind, redemption.status):
        raise InvalidTransition(
            f"a {redemption.kind} redemption that is {redemption.status} cannot become {target}"
        )


def refund_expiry_days(session: Session, redemption: Redemption, now: datetime) -> int:
    """Days (from today, WIB) until the refund lot's last day: the latest expiry among the
    lots the redemption consumed, but at least ``REFUND_MIN_DAYS`` (module docstring)."""
    latest = session.scalar(
        select(func.max(PointsLot.expires_at))
        .join(LotConsumption, LotConsumption.lot_id == PointsLot.id)
        .where(LotConsumption.ledger_entry_id == redemption.ledger_entry_id)
    )
    days = (wib_date(latest) - wib_date(now)).days if latest is not None else 0
    return max(days, REFUND_MIN_DAYS)


def _notify(session: Session, redemption: Redemption, status: str, now: datetime) -> None:
    """Queue the partner's notice of a status change (once per redemption and status)."""
    number = redemption.redemption_no or redemption_no_for(redemption.id)
    partner = session.get(Partner, redemption.partner_id)
    assert partner is not None
    reward = redemption.reward
    params: dict[str, object] = {
        "redemption_no": number,
        "reward_id": reward.name_id,
        "reward_en": reward.name_en,
    }
    if status == RedemptionStatus.CANCELLED:
        params = {"redemption_no": number, "points": int(redemption.points_spent)}
    elif status == RedemptionStatus.SHIPPED:
        params["tracking"] = " ".join(v for v in (redemption.courier, redemption.tracking_no) if v)
    elif status not in (RedemptionStatus.DELIVERED, RedemptionStatus.FULFILLED):
        return
    kind = f"redemption_{status}"
    notifications.enqueue(
        session,
        partner,
        kind,
        params,
        dedupe_key=f"redemption:{number}:{status}",
        group_key=number,
        now=now,
    )


def _cancel_locked(
    session: Session,
    redemption: Redemption,
    *,
    actor: str,
    note: str | None,
    now: datetime,
    notify: bool = True,
) -> None:
    """Cancel a locked redemption: refund, stock or code back, status (audited)."""
    number = redemption.redemption_no or redemption_no_for(redemption.id)
    before = redemption.status
    days = refund_expiry_days(session, redemption, now)
    refund = ledger.earn(
        session,
        partner_id=redemption.partner_id,
        points=redemption.points_spent,
        reason=LedgerReason.REFUND.value,
        reference_type="redemption",
        reference_id=number,
        idempotency_key=f"{KeyNamespace.REFUND.value}{number}",
        key_owner=KeyNamespace.REFUND,
        description=f"Refund: {redemption.reward.name_en} ({number})"[:200],
        expires_in_days=days,
        now=now,
        actor=actor,
    ).entry
    if redemption.voucher_code_id is not None:
        vouchers.void_code(session, redemption.voucher_code_id)
    elif redemption.kind != RewardKind.VOUCHER:
        session.execute(
            update(Reward)
            .where(Reward.id == redemption.reward_id, Reward.stock.is_not(None))
            .values(stock=Reward.stock + 1)
            .execution_options(synchronize_session=False)
        )
    redemption.status = RedemptionStatus.CANCELLED.value
    redemption.refunded_points = redemption.points_spent
    if note:
        redemption.note = note[:500]
    redemption.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="redemption.cancel",
        entity="redemption",
        entity_id=number,
        details={
            "from": before,
            "partner_id": redemption.partner_id,
            "refunded_points": redemption.points_spent,
            "refund_entry_id": refund.id,
            "refund_expires_on": (wib_date(now) + timedelta(days=days)).isoformat(),
            "voucher_code_voided": redemption.voucher_code_id,
            "note": note,
        },
        now=now,
    )
    if notify:
        _notify(session, redemption, RedemptionStatus.CANCELLED.value, now)


def cancel(
    session: Session,
    redemption_no: str,
    *,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Redemption:
    """Cancel a redemption and refund its points (module docstring). Cancelling one that
    is already cancelled changes nothing. InvalidTransition (409) when its kind and
    status do not allow it; RedemptionNotFound."""
    now = now or utcnow()
    with write_transaction(session):
        redemption = _lock(session, Redemption.redemption_no == redemption_no)
        if redemption.status != RedemptionStatus.CANCELLED.value:
            _check_transition(redemption, RedemptionStatus.CANCELLED.value)
            _cancel_locked(session, redemption, actor=actor, note=note, now=now)
    return redemption


def update_redemption(
    session: Session,
    redemption_no: str,
    *,
    actor: str,
    status: str | None = None,
    courier: str | None = None,
    tracking_no: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Redemption:
    """Fulfilment by an admin: a new status (the allowed changes only; ``cancelled``
    refunds), the courier and tracking number of goods (shipping needs both), a note.
    Audited. Asking for the status it already has changes only the other fields."""
    now = now or utcnow()
    with write_transaction(session):
        redemption = _lock(session, Redemption.redemption_no == redemption_no)
        if (courier or tracking_no) and redemption.kind not in GOODS_KINDS:
            raise InvalidRedemption("courier and tracking_no are for goods that are shipped")
        changes: dict[str, list[object]] = {}
        for column, value in (("courier", courier), ("tracking_no", tracking_no)):
            if value is not None and value != getattr(redemption, column):
                changes[column] = [getattr(redemption, column), value]
                setattr(redemption, column, value)
        if status is not None and status != redemption.status:
            _check_transition(redemption, status)
            changes["status"] = [redemption.status, status]
            if status == RedemptionStatus.SHIPPED and not (
                redemption.courier and redemption.tracking_no
            ):
                raise InvalidRedemption("shipping needs the courier and the tracking_no")
            if status == RedemptionStatus.CANCELLED:
                _cancel_locked(session, redemption, actor=actor, note=note, now=now)
            else:
                redemption.status = status
                _notify(session, redemption, status, now)
        if note is not None and (note or None) != redemption.note:
            changes["note"] = [redemption.note, note or None]
            redemption.note = note or None
        if changes:
            redemption.updated_at = now
            audit.record(
                session,
                actor=actor,
                action="redemption.update",
                entity="redemption",
                entity_id=redemption_no,
                details={"changes": changes, "partner_id": redemption.partner_id},
                now=now,
            )
    return redemption


# --- payouts (app/services/fulfilment.py) ----------------------------------------------------


def request_payout(
    session: Session, redemption_id: int, *, actor: str = PAYOUT_ACTOR, notify: bool = True
) -> Redemption:
    """Ask the payout provider to pay an e-wallet/cashback redemption that is still
    ``requested`` without a payout reference, and store the outcome. A provider that
    raises leaves it as it was (logged); the retry job asks again. ``notify``: queue the
    partner's notice of the outcome (``redeem`` answers it in the chat instead)."""
    if in_write_transaction(session):
        raise RuntimeError("request_payout calls the provider outside any transaction")
    session.commit()
    redemption = session.get(Redemption, redemption_id, populate_existing=True)
    if redemption is None:
        raise RedemptionNotFound()
    if not _awaits_payout_request(redemption):
        return redemption
    partner = session.get(Partner, redemption.partner_id)
    assert partner is not None
    session.commit()  # hold no transaction open while the provider answers
    try:
        provider = fulfilment.get_provider()
        result = provider.request_payout(redemption, partner)
    except Exception:
        log.exception(
            "payout request failed: the redemption stays requested and is retried",
            extra={"redemption_no": redemption.redemption_no},
        )
        return redemption
    redemption, _ = _apply_payout(
        session,
        Redemption.id == redemption_id,
        result.status,
        result.provider_ref,
        result.reason,
        actor=actor,
        source=provider.name,
        notify=notify,
    )
    return redemption


def settle_payout(
    session: Session,
    payout_ref: str,
    status: str,
    *,
    reason: str | None = None,
    actor: str,
    provider: str = "fake",
    now: datetime | None = None,
) -> tuple[Redemption, bool]:
    """The provider's callback: ``succeeded`` fulfils, ``failed`` cancels and refunds a
    ``requested`` redemption. The same outcome again changes nothing (``changed`` False);
    the opposite of what was settled is InvalidTransition (409). RedemptionNotFound for
    an unknown reference."""
    if status not in ("succeeded", "failed"):
        raise ValueError("a callback settles a payout as succeeded or failed")
    return _apply_payout(
        session,
        Redemption.payout_ref == payout_ref,
        status,
        payout_ref,
        reason,
        actor=actor,
        source=provider,
        now=now,
        strict=True,
    )


def _apply_payout(
    session: Session,
    where: object,
    status: str,
    provider_ref: str | None,
    reason: str | None,
    *,
    actor: str,
    source: str,
    now: datetime | None = None,
    strict: bool = False,
    notify: bool = True,
) -> tuple[Redemption, bool]:
    now = now or utcnow()
    with write_transaction(session):
        redemption = _lock(session, where)
        if redemption.status != RedemptionStatus.REQUESTED.value:
            settled = {"succeeded": S.FULFILLED.value, "failed": S.CANCELLED.value}.get(
                status, redemption.status
            )
            if redemption.status != settled:
                # E.g. paid after an admin cancelled it: a person must look at it.
                log.error(
                    "payout outcome contradicts the redemption's status",
                    extra={
                        "redemption_no": redemption.redemption_no,
                        "status": redemption.status,
                        "outcome": status,
                        "provider": source,
                    },
                )
                if strict:
                    raise InvalidTransition(
                        f"payout {provider_ref} was already settled: the redemption is "
                        f"{redemption.status}"
                    )
            return redemption, False
        if status == "pending" and not provider_ref:
            log.error(
                "a pending payout without a reference cannot be settled: retried later",
                extra={"redemption_no": redemption.redemption_no, "provider": source},
            )
            return redemption, False
        before = redemption.status
        if provider_ref:
            redemption.payout_ref = provider_ref
        if status == "succeeded":
            redemption.status = RedemptionStatus.FULFILLED.value
            if notify:
                _notify(session, redemption, RedemptionStatus.FULFILLED.value, now)
        elif status == "failed":
            note = f"Payout failed: {reason}" if reason else "Payout failed"
            _cancel_locked(session, redemption, actor=actor, note=note, now=now, notify=notify)
        redemption.updated_at = now
        audit.record(
            session,
            actor=actor,
            action="redemption.payout",
            entity="redemption",
            entity_id=redemption.redemption_no or redemption.id,
            details={
                "provider": source,
                "outcome": status,
                "payout_ref": provider_ref,
                "reason": reason,
                "from": before,
                "to": redemption.status,
            },
            now=now,
        )
    return redemption, True


def retry_payouts(
    session: Session,
    *,
    older_than: timedelta = timedelta(minutes=2),
    now: datetime | None = None,
    actor: str = PAYOUT_ACTOR,
) -> RetryRun:
    """Ask again for the payouts that never reached the provider: e-wallet and cashback
    redemptions still ``requested`` without a payout reference, created at least
    ``older_than`` ago (so a request still in flight is left alone). One redemption's
    failure is logged and does not stop the others."""
    now = now or utcnow()
    session.commit()
    ids = session.scalars(
        select(Redemption.id)
        .where(
            Redemption.status == RedemptionStatus.REQUESTED.value,
            Redemption.kind.in_(sorted(PAYOUT_KINDS)),
            Redemption.payout_ref.is_(None),
            Redemption.created_at <= now - older_than,
        )
        .order_by(Redemption.id)
    ).all()
    counts = {"fulfilled": 0, "pending": 0, "cancelled": 0, "still_requested": 0}
    for redemption_id in ids:
        try:
            redemption = request_payout(session, redemption_id, actor=actor)
        except Exception:
            log.exception("retrying a payout failed", extra={"redemption_id": redemption_id})
            session.rollback()
            counts["still_requested"] += 1
            continue
        if redemption.status == RedemptionStatus.FULFILLED.value:
            counts["fulfilled"] += 1
        elif redemption.status == RedemptionStatus.CANCELLED.value:
            counts["cancelled"] += 1
        elif redemption.payout_ref is not None:
            counts["pending"] += 1
        else:
            counts["still_requested"] += 1
    return RetryRun(attempted=len(ids), **counts)


# --- reads -------------------------------------------------------------------------------------


def get_redemption(session: Session, redemption_no: str) -> Redemption:
    redemption = session.scalars(
        select(Redemption)
        .where(Redemption.redemption_no == redemption_no)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if redemption is None:
        raise RedemptionNotFound()
    return redemption


def get_for_partner(session: Session, partner_id: int, redemption_no: str) -> Redemption:
    """The partner's own redemption; another partner's is RedemptionNotFound too."""
    redemption = get_redemption(session, redemption_no)
    if redemption.partner_id != partner_id:
        raise RedemptionNotFound()
    return redemption


def list_for_partner(session: Session, partner_id: int, *, limit: int = 5) -> list[Redemption]:
    """The partner's redemptions, newest first."""
    return list(
        session.scalars(
            select(Redemption)
            .where(Redemption.partner_id == partner_id)
            .order_by(Redemption.created_at.desc(), Redemption.id.desc())
            .limit(limit)
        )
    )


def list_for_admin(
    session: Session, *, status: str | None, limit: int, offset: int
) -> tuple[list[tuple[Redemption, Partner]], int]:
    """Redemptions (with their partner) newest first, and how many match."""
    where = [Redemption.status == status] if status else []
    total = session.scalar(select(func.count()).select_from(Redemption).where(*where)) or 0
    rows = session.execute(
        select(Redemption, Partner)
        .join(Partner, Partner.id == Redemption.partner_id)
        .where(*where)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [(redemption, partner) for redemption, partner in rows], total


def changed_since(
    session: Session, since: datetime | None, *, limit: int
) -> list[tuple[Redemption, Partner]]:
    """Redemptions created or changed at or after ``since``, oldest change first (the
    ERP's feed)."""
    where = [Redemption.updated_at >= since] if since is not None else []
    rows = session.execute(
        select(Redemption, Partner)
        .join(Partner, Partner.id == Redemption.partner_id)
        .where(*where)
        .order_by(Redemption.updated_at, Redemption.id)
        .limit(limit)
    ).all()
    return [(redemption, partner) for redemption, partner in rows]
