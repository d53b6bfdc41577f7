from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

import app.jobs.expire as expire_job
from app.core.clock import utcnow
from app.core.db import make_session_factory
from app.services import ledger
from tests.conftest import TestDB
from tests.utils import assert_ledger_consistent, new_partner


def test_job_expires_due_lots(db: TestDB, session: Session, monkeypatch: pytest.MonkeyPatch):
    partner = new_partner(session)
    ledger.earn(
        session,
        partner_id=partner.id,
        points=120,
        reason="quiz",
        reference_type="quiz_attempt",
        reference_id="q",
        idempotency_key="q",
        now=utcnow() - timedelta(days=366),
    )
    ledger.earn(
        session,
        partner_id=partner.id,
        points=80,
        reason="quiz",
        reference_type="quiz_attempt",
        reference_id="q2",
        idempotency_key="q2",
    )
    monkeypatch.setattr(expire_job, "get_session_factory", lambda: make_session_factory(db.engine))
    assert expire_job.run() == 120
    assert expire_job.run() == 0
    assert assert_ledger_consistent(session, partner.id) == 80
    assert expire_job.main() == 0
