from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import app.initial_data as initial_data
from app.core.clock import utcnow
from app.core.db import make_engine, make_session_factory
from app.core.migrations import upgrade_head
from app.demo_fixtures import ANDI, FIXTURES, RINA, STRANGER_WA_ID
from app.models import ConsentRecord, LedgerEntry, Partner, PointsAccount
from app.services import ledger, tiers
from tests.conftest import TestDB
from tests.utils import assert_ledger_consistent


def _snapshot(session: Session) -> dict[str, tuple[int, int, int]]:
    rows = session.execute(
        select(Partner.wa_id, PointsAccount.balance, PointsAccount.lifetime_earned).join(
            PointsAccount, PointsAccount.partner_id == Partner.id
        )
    ).all()
    counts = dict(
        session.execute(
            select(Partner.wa_id, func.count(LedgerEntry.id))
            .outerjoin(LedgerEntry, LedgerEntry.partner_id == Partner.id)
            .group_by(Partner.wa_id)
        ).all()
    )
    return {wa: (balance, lifetime, counts[wa]) for wa, balance, lifetime in rows}


def test_real_seed_builds_the_demo_world(session: Session) -> None:
    now = utcnow()
    summary = initial_data.seed_demo(session, now)
    assert summary.created and summary.partners >= 50
    everyone = session.scalars(select(Partner)).all()
    assert len(everyone) >= 50
    assert {p.role for p in everyone} == {"distributor", "wholesaler", "retailer", "field_seller"}
    assert len({p.region for p in everyone}) >= 6
    assert STRANGER_WA_ID not in {p.wa_id for p in everyone}
    retailers = [p for p in everyone if p.role == "retailer"]
    assert all(p.parent_id is not None for p in retailers)
    parents = {p.id: p for p in everyone}
    assert all(parents[p.parent_id].role == "distributor" for p in retailers)
    andi = next(p for p in everyone if p.wa_id == ANDI.wa_id)
    assert sum(p.parent_id == andi.id for p in retailers) >= 3
    reasons = set(session.scalars(select(LedgerEntry.reason)))
    assert {"claim", "quiz", "welcome_bonus", "redemption", "adjustment", "expiry"} <= reasons

    for fixture in FIXTURES:
        partner = next(p for p in everyone if p.wa_id == fixture.wa_id)
        view = ledger.balance(session, partner.id, now)
        assert view.available_points == fixture.available_points, fixture.name
        assert view.lifetime_earned == fixture.lifetime_earned, fixture.name
        assert view.expiring_soon_points == fixture.expiring_30d_points, fixture.name
        assert tiers.progress(session, partner.id, now).current.code == fixture.tier
        _, total = ledger.history(session, partner.id, limit=1, offset=0, now=now)
        assert total == fixture.history_entries, fixture.name
        assert (partner.language, partner.opted_out) == (fixture.language, fixture.opted_out)
    rina = next(p for p in everyone if p.wa_id == RINA.wa_id)
    assert session.get(PointsAccount, rina.id).balance == 0

    joko_consents = session.scalars(
        select(ConsentRecord.kind)
        .join(Partner, Partner.id == ConsentRecord.partner_id)
        .where(Partner.wa_id == "6281200000005", ConsentRecord.granted.is_(False))
    ).all()
    assert joko_consents == ["marketing"]

    for partner in everyone:
        assert_ledger_consistent(session, partner.id)
    expiring_soon = [
        p for p in everyone if ledger.balance(session, p.id, now).expiring_soon_points > 0
    ]
    assert len(expiring_soon) >= 3


def test_seed_is_idempotent_and_deterministic(session: Session, tmp_path: Path) -> None:
    initial_data.seed_demo(session)
    before = _snapshot(session)
    again = initial_data.seed_demo(session)
    assert not again.created
    assert _snapshot(session) == before

    # A seed run on another day, on another database, gives the same balances.
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade_head(other)
    with make_session_factory(other)() as other_session:
        initial_data.seed_demo(other_session, utcnow() - timedelta(days=40, hours=5))
        assert _snapshot(other_session) == before
    other.dispose()


def test_main_seeds_resets_and_reseeds(
    db: TestDB, session: Session, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(initial_data, "get_engine", lambda: db.engine)
    monkeypatch.setattr(
        initial_data, "get_session_factory", lambda: make_session_factory(db.engine)
    )
    assert initial_data.main([]) == 0
    assert "seeded" in capsys.readouterr().out
    first = _snapshot(session)
    session.commit()
    assert initial_data.main([]) == 0
    assert "nothing changed" in capsys.readouterr().out
    session.close()
    assert initial_data.main(["--reset"]) == 0
    assert "seeded" in capsys.readouterr().out
    with make_session_factory(db.engine)() as fresh:
        assert _snapshot(fresh) == first


def test_main_no_demo_adds_only_tiers(db: TestDB, session: Session, monkeypatch) -> None:
    monkeypatch.setattr(initial_data, "get_engine", lambda: db.engine)
    monkeypatch.setattr(
        initial_data, "get_session_factory", lambda: make_session_factory(db.engine)
    )
    assert initial_data.main(["--no-demo"]) == 0
    assert len(tiers.list_tiers(session)) == 3
    assert session.scalar(select(func.count()).select_from(Partner)) == 0


def test_seeded_fixture_has_datetimes_in_utc(session: Session, seeded: datetime) -> None:
    entry = session.scalars(select(LedgerEntry).limit(1)).one()
    assert isinstance(entry.created_at, datetime)
    assert entry.created_at.utcoffset() == timedelta(0)
