import os
import secrets
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import app.initial_data as initial_data
from app.core.clock import WIB, utcnow, wib_date
from app.core.config import CREDENTIAL_VARS, Settings
from app.core.db import make_engine, make_session_factory
from app.core.migrations import upgrade_head
from app.demo_fixtures import ANDI, FIXTURES, RINA, STRANGER_WA_ID
from app.models import ConsentRecord, LedgerEntry, Partner, PointsAccount
from app.services import ledger, tiers
from tests.conftest import TestDB
from tests.utils import assert_ledger_consistent, new_partner


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


# --- demo data only where it belongs ------------------------------------------------------


def _production(**extra: object) -> Settings:
    keys = {name: secrets.token_urlsafe(32) for name in CREDENTIAL_VARS}
    return Settings(APP_ENV="production", **keys, **extra)


def _count(session: Session, model: type) -> int:
    session.commit()
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def main_on_test_db(db: TestDB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(initial_data, "get_engine", lambda: db.engine)
    monkeypatch.setattr(
        initial_data, "get_session_factory", lambda: make_session_factory(db.engine)
    )


@pytest.mark.parametrize("argv", [[], ["--reset"], ["--reset", "--no-demo"]])
def test_production_refuses_the_demo_seed(
    main_on_test_db: None,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    new_partner(session, wa_id="6281999999999")  # real data that --reset would drop
    monkeypatch.setattr(initial_data, "settings", _production())
    assert initial_data.main(argv) == 2
    err = capsys.readouterr().err
    assert "APP_ENV=production" in err and "--demo" in err and "--no-demo" in err
    assert _count(session, Partner) == 1  # nothing seeded, nothing dropped
    assert tiers.list_tiers(session) == []


def test_production_may_add_the_reference_data(
    main_on_test_db: None, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(initial_data, "settings", _production())
    assert initial_data.main(["--no-demo"]) == 0
    assert len(tiers.list_tiers(session)) == 3
    assert _count(session, Partner) == 0


@pytest.mark.parametrize(("argv", "seed_demo"), [(["--demo"], False), ([], True)])
def test_production_seeds_demo_data_when_asked(
    main_on_test_db: None,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    seed_demo: bool,
) -> None:
    monkeypatch.setattr(initial_data, "settings", _production(SEED_DEMO=seed_demo))
    assert initial_data.main(argv) == 0
    assert _count(session, Partner) >= 50


def test_demo_and_no_demo_together_is_a_usage_error(main_on_test_db: None) -> None:
    with pytest.raises(SystemExit) as exit_:
        initial_data.main(["--demo", "--no-demo"])
    assert exit_.value.code == 2


def test_the_refusal_is_a_failing_process(tmp_path: Path) -> None:
    keys = {name: secrets.token_urlsafe(32) for name in CREDENTIAL_VARS}
    database = tmp_path / "prod.db"
    result = subprocess.run(
        [sys.executable, "-m", "app.initial_data"],
        cwd=Path(__file__).resolve().parents[1],
        env={
            "PATH": os.environ.get("PATH", ""),
            "APP_ENV": "production",
            "DATABASE_URL": f"sqlite:///{database}",
            **keys,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "refusing to seed the demo partners with APP_ENV=production" in result.stderr
    assert not database.exists()


def test_seed_keys_are_in_the_seeds_namespace(session: Session, seeded: datetime) -> None:
    keys = session.scalars(select(LedgerEntry.idempotency_key)).all()
    assert keys and all(k.startswith(("seed:", "expiry:lot:")) for k in keys)


def test_seed_does_not_depend_on_the_time_of_day(session: Session, tmp_path: Path) -> None:
    """Lots expire at the end of a WIB day, so the seed's history is laid out from the start
    of its WIB day: seeding at 00:01 or at 23:59 WIB writes the very same ledger."""
    day = datetime(2025, 5, 20, tzinfo=WIB)
    worlds = []
    for n, moment in enumerate((day + timedelta(minutes=1), day + timedelta(hours=23, minutes=59))):
        engine = make_engine(f"sqlite:///{tmp_path / f'{n}.db'}")
        upgrade_head(engine)
        with make_session_factory(engine)() as other:
            initial_data.seed_demo(other, moment)
            history = other.execute(
                select(Partner.wa_id, LedgerEntry.created_at, LedgerEntry.delta)
                .join(Partner, Partner.id == LedgerEntry.partner_id)
                .order_by(LedgerEntry.id)
            ).all()
            worlds.append((_snapshot(other), history))
        engine.dispose()
    assert worlds[0][1] and worlds[0] == worlds[1]


# --- catalogue, customer codes and ERP lines (claims) ------------------------------------


def test_seed_has_the_catalogue_customer_codes_and_erp_lines(
    session: Session, seeded: datetime
) -> None:
    from app.initial_data import FIXTURE_CUSTOMER_CODES
    from app.services import catalogue, erp

    assert len(catalogue.list_products(session)) == 8
    codes = dict(session.execute(select(Partner.wa_id, Partner.erp_customer_code)).all())
    assert {wa: codes[wa] for wa in FIXTURE_CUSTOMER_CODES} == {
        "6281200000001": "CUST-0001",
        "6281200000002": "CUST-0002",
        "6281200000003": "CUST-0003",
        "6281200000004": "CUST-0004",
        "6281200000005": "CUST-0005",
    }
    assert all(codes.values()) and len(set(codes.values())) == len(codes)

    # The sandbox's sample invoice photo shows exactly this invoice.
    sample = erp.sales_lines_for_invoice(session, "INV/DN/2611/00123")
    assert [(x.sku, x.quantity, x.invoice_date, x.customer_code, x.seller) for x in sample] == [
        ("KSGA-24", 10, date(2026, 11, 26), "CUST-0001", "PT Distribusi Nusantara"),
        ("TML-48", 5, date(2026, 11, 26), "CUST-0001", "PT Distribusi Nusantara"),
    ]
    # Other recent invoices of Budi, dated from the seed's day.
    recent = erp.sales_lines_for_invoice(session, "INV/SJ/2611/00117")
    assert {x.sku for x in recent} == {"KHT-24", "K3S-50"}
    assert recent[0].invoice_date == wib_date(seeded) - timedelta(days=2)
