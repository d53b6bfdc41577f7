import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from app.core.clock import WIB, wib_date, wib_end_of_day, wib_start_of_day
from app.core.config import CREDENTIAL_VARS, Settings
from app.core.logging import JsonFormatter, KeyValueFormatter, mask_path, mask_wa_id
from app.core.security import authenticate, token_matches
from app.models import AuditLog
from app.services import audit
from tests.conftest import TestDB


@pytest.mark.parametrize(
    ("wa_id", "masked"),
    [
        ("6281200000001", "6281****0001"),
        ("ID.4f9c2a7e1b83", "ID.4****1b83"),
        ("12345678", "1****78"),
        ("123", "****"),
        ("", ""),
    ],
)
def test_mask_wa_id(wa_id: str, masked: str) -> None:
    assert mask_wa_id(wa_id) == masked


def test_mask_path() -> None:
    assert mask_path("/api/v1/partners/by-wa/6281200000001/balance") == (
        "/api/v1/partners/by-wa/6281****0001/balance"
    )
    assert mask_path("/health") == "/health"


def test_request_log_masks_wa_id(client: TestClient, auth: dict, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="app.request"):
        client.get("/api/v1/partners/by-wa/6281200000001/balance", headers=auth)
    records = [r for r in caplog.records if r.name == "app.request"]
    assert records and records[-1].path == "/api/v1/partners/by-wa/6281****0001/balance"
    line = JsonFormatter().format(records[-1])
    assert "6281200000001" not in line
    assert json.loads(line)["status"] == 404
    assert "status=404" in KeyValueFormatter().format(records[-1])


def test_token_check() -> None:
    assert token_matches("k" * 40, "k" * 40)
    assert not token_matches("k" * 39 + "K", "k" * 40)
    assert not token_matches("k" * 39, "k" * 40)
    assert not token_matches(None, "k" * 40)
    assert not token_matches("", "")
    assert not token_matches("x", None)
    assert not token_matches("é", "demo")


def test_authenticate_names_the_caller() -> None:
    keys = {"SERVICE_TOKEN": "s" * 32, "ERP_API_KEY": "e" * 32, "ADMIN_API_KEY": "a" * 32}
    configured = Settings(**keys)
    assert authenticate("s" * 32, configured).name == "service"
    assert authenticate("e" * 32, configured).name == "erp"
    assert authenticate("a" * 32, configured).name == "admin"
    assert authenticate("x" * 32, configured) is None
    assert authenticate(None, configured) is None
    nobody = Settings(SERVICE_TOKEN=None, ERP_API_KEY=None, ADMIN_API_KEY=None)
    assert all(authenticate(key, nobody) is None for key in (*keys.values(), "", None))


def test_settings_defaults_and_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "EXPIRY_DAYS", "TIER_WINDOW_DAYS", "APP_ENV", *CREDENTIAL_VARS):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings()
    assert defaults.DATABASE_URL == "sqlite:///./mitra.db"
    assert (defaults.EXPIRY_DAYS, defaults.TIER_WINDOW_DAYS) == (365, 365)
    assert defaults.APP_ENV == "development"
    # No committed fallback: without the environment, every caller is disabled.
    assert all(defaults.credential(name) is None for name in CREDENTIAL_VARS)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    assert Settings().DATABASE_URL == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_wib_dates() -> None:
    late_utc = datetime(2024, 6, 1, 20, 0, tzinfo=UTC)  # 03:00 WIB on 2 June
    assert wib_date(late_utc).isoformat() == "2024-06-02"
    start = wib_start_of_day(wib_date(late_utc))
    assert start == datetime(2024, 6, 1, 17, 0, tzinfo=UTC)
    assert start.astimezone(WIB).hour == 0
    end = wib_end_of_day(wib_date(late_utc))
    assert end == datetime(2024, 6, 2, 16, 59, 59, 999999, tzinfo=UTC)
    assert wib_date(end).isoformat() == "2024-06-02"
    assert wib_date(end + timedelta(microseconds=1)).isoformat() == "2024-06-03"


def test_datetimes_round_trip_as_utc(db: TestDB, session: Session) -> None:
    moment = datetime(2024, 1, 2, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=7)))
    with session.begin():
        audit.record(session, actor="t", action="a", entity="e", entity_id=1, now=moment)
    session.expunge_all()
    row = session.scalars(select(AuditLog)).one()
    assert row.created_at == moment
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session: Session) -> None:
    with pytest.raises(StatementError), session.begin():
        audit.record(
            session, actor="t", action="a", entity="e", entity_id=1, now=datetime(2024, 1, 1)
        )
