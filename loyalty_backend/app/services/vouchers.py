"""Voucher codes: importing a reward's pool, counting what is left, issuing and voiding.

A voucher reward's stock is its pool: the codes that are ``available`` and not expired.
Codes come from the voucher issuer in batches (``POST /admin/rewards/{code}/vouchers``,
``python -m app.commands.import_vouchers``, ``import_codes`` here). Each code is checked
on its own: a bad one is reported with its index and does not stop the others; a code
the pool already has (or the batch had above) is a duplicate and changes nothing, so an
import can always be run again.

Issuing (``take_code``) happens inside a redemption's transaction, after its points are
spent. PostgreSQL picks the soonest-expiring available code with ``FOR UPDATE SKIP
LOCKED``, so concurrent redemptions take different codes without waiting on each other.
SQLite has no row locks (its writers run one at a time, BEGIN IMMEDIATE), and claims the
code with one guarded ``UPDATE ... WHERE id = (first available) AND status =
'available'``. Either way a code past its ``expires_at`` is never issued, and an issued
code is never issued again: a cancelled redemption's code becomes ``void``.
"""

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.core.clock import utcnow, wib_end_of_day
from app.core.db import write_transaction
from app.models import VoucherCode
from app.models.reward import RewardKind, VoucherStatus
from app.services import audit, rewards
from app.services.errors import InvalidReward

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{3,63}$")
CODE_RULE = "must be 4-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
INSERT_CHUNK = 1000
# Demo codes: no 0/O or 1/I, which people misread from a chat message.
DEMO_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class RejectedCode:
    index: int  # from 0, in the order the codes were given
    reason: str


@dataclass(frozen=True)
class ImportResult:
    added: int
    duplicates: int
    rejected: list[RejectedCode] = field(default_factory=list)


@dataclass(frozen=True)
class IssuedCode:
    id: int
    code: str
    expires_at: datetime


def code_expiry(expires_at: date | datetime) -> datetime:
    """A WIB date means the end of that day (usable all day); a datetime must be aware."""
    if isinstance(expires_at, datetime):
        if expires_at.tzinfo is None:
            raise InvalidReward("expires_at needs a time zone (or give a date)")
        return expires_at
    return wib_end_of_day(expires_at)


def import_codes(
    session: Session,
    reward_code: str,
    codes: Sequence[object],
    *,
    expires_at: date | datetime,
    actor: str,
    now: datetime | None = None,
) -> ImportResult:
    """Add codes to a voucher reward's pool (module docstring). Audited.

    Raises RewardNotFound, and InvalidReward when the reward is not a voucher or
    ``expires_at`` is not in the future (those concern the whole batch).
    """
    now = now or utcnow()
    expiry = code_expiry(expires_at)
    if expiry <= now:
        raise InvalidReward("expires_at must be in the future")
    reward = rewards.get_reward(session, reward_code)
    if reward.kind != RewardKind.VOUCHER:
        raise InvalidReward(f"{reward.code} is not a voucher reward: it has no code pool")
    rejected: list[RejectedCode] = []
    wanted: list[str] = []
    seen: set[str] = set()
    repeated = 0
    for index, raw in enumerate(codes):
        code = raw.strip() if isinstance(raw, str) else None
        if not code:
            rejected.append(RejectedCode(index, "empty or not a text"))
        elif not CODE_PATTERN.fullmatch(code):
            rejected.append(RejectedCode(index, CODE_RULE))
        elif code in seen:
            repeated += 1
        else:
            seen.add(code)
            wanted.append(code)
    added = 0
    with write_transaction(session):
        insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
        for start in range(0, len(wanted), INSERT_CHUNK):
            rows = [
                {
                    "reward_id": reward.id,
                    "code": code,
                    "expires_at": expiry,
                    "status": VoucherStatus.AVAILABLE.value,
                    "created_at": now,
                }
                for code in wanted[start : start + INSERT_CHUNK]
            ]
            statement = (
                insert(VoucherCode)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["reward_id", "code"])
                .returning(VoucherCode.id)
            )
            added += len(session.execute(statement).all())
        audit.record(
            session,
            actor=actor,
            action="voucher.import",
            entity="reward",
            entity_id=reward.code,
            details={
                "added": added,
                "duplicates": repeated + len(wanted) - added,
                "rejected": len(rejected),
                "expires_at": expiry.isoformat(),
            },
            now=now,
        )
    return ImportResult(added, repeated + len(wanted) - added, rejected)


def pool_sizes(
    session: Session, reward_ids: Iterable[int], now: datetime | None = None
) -> dict[int, int]:
    """Codes left to issue (available, not expired) per voucher reward id."""
    ids = sorted(set(reward_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(VoucherCode.reward_id, func.count())
        .where(
            VoucherCode.reward_id.in_(ids),
            VoucherCode.status == VoucherStatus.AVAILABLE.value,
            VoucherCode.expires_at > (now or utcnow()),
        )
        .group_by(VoucherCode.reward_id)
    ).all()
    found = {reward_id: int(count) for reward_id, count in rows}
    return {reward_id: found.get(reward_id, 0) for reward_id in ids}


def take_code(
    session: Session, reward_id: int, redemption_id: int, now: datetime
) -> IssuedCode | None:
    """Issue the soonest-expiring available code to a redemption (in its transaction);
    None when the pool has no code left that has not expired."""
    available = select(VoucherCode.id).where(
        VoucherCode.reward_id == reward_id,
        VoucherCode.status == VoucherStatus.AVAILABLE.value,
        VoucherCode.expires_at > now,
    )
    issue = {
        "status": VoucherStatus.ISSUED.value,
        "redemption_id": redemption_id,
        "issued_at": now,
    }
    first = available.order_by(VoucherCode.expires_at, VoucherCode.id).limit(1)
    if _dialect(session) == "postgresql":
        # One statement: the subquery locks the code it picks and skips codes that
        # concurrent redemptions hold, so they never queue on the same row.
        first = first.with_for_update(skip_locked=True)
    target = VoucherCode.id == first.scalar_subquery()
    row = session.execute(
        update(VoucherCode)
        .where(target, VoucherCode.status == VoucherStatus.AVAILABLE.value)
        .values(**issue)
        .returning(VoucherCode.id, VoucherCode.code, VoucherCode.expires_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return IssuedCode(row.id, row.code, row.expires_at) if row else None


def void_code(session: Session, code_id: int) -> None:
    """A cancelled redemption's code: shown to the partner once, never issued again."""
    session.execute(
        update(VoucherCode)
        .where(VoucherCode.id == code_id)
        .values(status=VoucherStatus.VOID.value)
        .execution_options(synchronize_session=False)
    )


def demo_codes(prefix: str, count: int, seed: int) -> list[str]:
    """``count`` distinct codes like ``M50K-7KQ2-XH4P``, the same for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - demo codes, the same on every run on purpose
    found: dict[str, None] = {}
    while len(found) < count:
        groups = ("".join(rng.choice(DEMO_ALPHABET) for _ in range(4)) for _ in range(2))
        found.setdefault(f"{prefix}-{'-'.join(groups)}", None)
    return list(found)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
