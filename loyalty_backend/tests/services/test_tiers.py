from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import write_transaction
from app.models import Tier
from app.services import ledger, tiers
from tests.utils import new_partner


def _setup(session: Session) -> None:
    with write_transaction(session):
        tiers.ensure_default_tiers(session)


def _earn(session: Session, partner_id: int, points: int, key: str, days_ago: float, **kw):
    params: dict = {"reason": "claim", "reference_type": "claim", "reference_id": key}
    params.update(kw)
    ledger.earn(
        session,
        partner_id=partner_id,
        points=points,
        idempotency_key=key,
        now=utcnow() - timedelta(days=days_ago),
        **params,
    )


def test_default_tiers_are_seeded_once(session: Session) -> None:
    _setup(session)
    with write_transaction(session):
        assert tiers.ensure_default_tiers(session) == 0
    assert [(t.code, t.min_points) for t in tiers.list_tiers(session)] == [
        ("silver", 0),
        ("gold", 5000),
        ("platinum", 15000),
    ]


def test_thresholds_are_inclusive(session: Session) -> None:
    _setup(session)
    partner = new_partner(session)
    _earn(session, partner.id, 4999, "a", 10)
    assert tiers.progress(session, partner.id).current.code == "silver"
    _earn(session, partner.id, 1, "b", 5)
    progress = tiers.progress(session, partner.id)
    assert progress.current.code == "gold"
    assert (progress.points_in_window, progress.points_to_next) == (5000, 10000)


def test_points_outside_the_window_do_not_count(session: Session) -> None:
    _setup(session)
    partner = new_partner(session)
    _earn(session, partner.id, 6000, "old", 366)
    _earn(session, partner.id, 1000, "recent", 364, expires_in_days=3650)
    progress = tiers.progress(session, partner.id)
    assert progress.current.code == "silver"
    assert progress.points_in_window == 1000


def test_spending_and_adjustments_do_not_move_tiers(session: Session) -> None:
    _setup(session)
    partner = new_partner(session)
    _earn(session, partner.id, 5000, "claim", 30)
    _earn(session, partner.id, 20000, "adj", 20, reason="adjustment", reference_type="adjustment")
    ledger.spend(
        session,
        partner_id=partner.id,
        points=25000,
        reason="redemption",
        reference_type="redemption",
        reference_id="r",
        idempotency_key="r",
    )
    progress = tiers.progress(session, partner.id)
    assert progress.current.code == "gold"
    assert progress.points_in_window == 5000


def test_tier_rule_is_data(session: Session) -> None:
    _setup(session)
    partner = new_partner(session)
    _earn(session, partner.id, 3000, "a", 10)
    with write_transaction(session):
        session.execute(update(Tier).where(Tier.code == "gold").values(min_points=2500))
    assert tiers.progress(session, partner.id).current.code == "gold"
