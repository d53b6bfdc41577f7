"""Helpers shared by tests."""

import itertools

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import LedgerEntry, Partner, PointsAccount, PointsLot
from app.models.enums import PartnerRole
from app.services import partners

_serial = itertools.count(1)


def new_partner(session: Session, wa_id: str | None = None, **kwargs: object) -> Partner:
    params: dict = {"name": "Test Partner", "role": PartnerRole.RETAILER, "region": "Bali"}
    params.update(kwargs)
    return partners.create_partner(session, wa_id=wa_id or f"6281777{next(_serial):06d}", **params)


def account_balance(session: Session, partner_id: int) -> int:
    return session.scalar(
        select(PointsAccount.balance).where(PointsAccount.partner_id == partner_id)
    )


def assert_ledger_consistent(session: Session, partner_id: int) -> int:
    """balance == sum(ledger deltas) == sum(lot remainders) >= 0; returns the balance."""
    session.commit()  # see the latest committed state
    balance = account_balance(session, partner_id)
    ledger_sum = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            LedgerEntry.partner_id == partner_id
        )
    )
    lots_sum = session.scalar(
        select(func.coalesce(func.sum(PointsLot.points_remaining), 0)).where(
            PointsLot.partner_id == partner_id
        )
    )
    assert balance == ledger_sum == lots_sum, (balance, ledger_sum, lots_sum)
    assert balance >= 0
    return balance
