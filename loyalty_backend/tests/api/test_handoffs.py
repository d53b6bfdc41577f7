"""Hand-off to a person, the partner's routes (service token) and the no-agent notice."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.config import settings
from app.jobs import handoff_timeouts
from app.main import app
from app.models import AuditLog, Handoff, Partner
from app.models.handoff import HandoffReason
from app.services import handoffs
from app.services.rasa_client import get_rasa_client
from tests import handoff_utils as hu
from tests.conftest import TestDB
from tests.utils import new_partner, race

rasa = hu.rasa
always_open = hu.always_open


def _path(partner: Partner, tail: str = "") -> str:
    return f"/api/v1/partners/by-wa/{partner.wa_id}/handoffs{tail}"


def _ask(
    client: TestClient, auth: dict[str, str], partner: Partner, key: str = "wa:m1", **body: Any
) -> Any:
    payload = {"reason": "requested", "idempotency_key": key, "last_message": "halo?", **body}
    return client.post(_path(partner), json=payload, headers=auth)


def test_availability_open(client: TestClient, auth: dict[str, str], always_open: None) -> None:
    response = client.get("/api/v1/support/availability", headers=auth)
    assert response.status_code == 200
    assert response.json() == {
        "open": True,
        "expected_wait_minutes": 5,
        "next_open_at": None,
        "next_open_label": None,
    }


def test_availability_closed_says_when(
    client: TestClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "SUPPORT_HOURS_ALWAYS_OPEN", False)
    body = client.get("/api/v1/support/availability", headers=auth).json()
    assert body["open"] is False
    assert body["next_open_at"] is not None
    assert body["next_open_label"]["id"].endswith(" WIB")
    assert body["next_open_label"]["en"].endswith(" WIB")
    assert "." in body["next_open_label"]["id"] and ":" in body["next_open_label"]["en"]


def test_request_replay_and_one_open_per_partner(
    client: TestClient, auth: dict[str, str], session: Session, always_open: None
) -> None:
    partner = new_partner(session)
    first = _ask(client, auth, partner)
    assert first.status_code == 201
    body = first.json()
    assert body == {
        "handoff_id": body["handoff_id"],
        "status": "waiting",
        "open": True,
        "expected_wait_minutes": 5,
        "next_open_label": None,
    }
    replay = _ask(client, auth, partner)
    assert replay.status_code == 200 and replay.json()["handoff_id"] == body["handoff_id"]
    again = _ask(client, auth, partner, key="wa:m2", reason="misunderstood")
    assert again.status_code == 200 and again.json()["handoff_id"] == body["handoff_id"]
    stored = session.scalars(select(Handoff)).all()
    assert len(stored) == 1
    assert (stored[0].reason, stored[0].last_message, stored[0].wa_id) == (
        "requested",
        "halo?",
        partner.wa_id,
    )
    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "handoff")).all()
    assert [(a.actor, a.action) for a in audit] == [("service", "handoff.requested")]


def test_request_refusals(client: TestClient, auth: dict[str, str], session: Session) -> None:
    partner, other = new_partner(session), new_partner(session)
    unknown = client.post(
        "/api/v1/partners/by-wa/6289999999999/handoffs",
        json={"reason": "requested", "idempotency_key": "wa:x"},
        headers=auth,
    )
    assert unknown.status_code == 404 and unknown.json() == {"detail": "partner not found"}
    assert _ask(client, auth, partner).status_code == 201
    stolen = _ask(client, auth, other)  # the same key, another partner
    assert stolen.status_code == 409 and isinstance(stolen.json()["detail"], str)
    assert _ask(client, auth, other, key="wa:m3", reason="bored").status_code == 422
    assert _ask(client, auth, other, key="wa:m3", last_message="x" * 4097).status_code == 422


def test_after_hours_request_says_when_support_opens(
    client: TestClient, auth: dict[str, str], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "SUPPORT_HOURS_ALWAYS_OPEN", False)
    body = _ask(client, auth, new_partner(session), reason="after_hours").json()
    assert body["open"] is False and body["status"] == "waiting"
    assert set(body["next_open_label"]) == {"id", "en"}


def test_keep_waiting_restarts_the_timer(
    client: TestClient, auth: dict[str, str], session: Session
) -> None:
    partner = new_partner(session)
    missing = client.post(_path(partner, "/current/wait"), headers=auth)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "this partner has no open hand-off"}
    handoff_id = _ask(client, auth, partner).json()["handoff_id"]
    handoff = session.get(Handoff, handoff_id)
    assert handoff is not None
    handoff.waiting_since = utcnow() - timedelta(hours=1)
    handoff.timeout_notified_at = utcnow()
    session.commit()
    response = client.post(_path(partner, "/current/wait"), headers=auth)
    assert response.status_code == 200
    assert response.json()["handoff_id"] == handoff_id and response.json()["status"] == "waiting"
    session.commit()  # a fresh snapshot
    session.expire_all()
    handoff = session.get(Handoff, handoff_id)
    assert handoff is not None and handoff.timeout_notified_at is None
    assert utcnow() - handoff.waiting_since < timedelta(minutes=1)


def test_cancel_then_ask_again(client: TestClient, auth: dict[str, str], session: Session) -> None:
    partner = new_partner(session)
    assert client.post(_path(partner, "/current/cancel"), headers=auth).status_code == 404
    first = _ask(client, auth, partner).json()["handoff_id"]
    cancelled = client.post(_path(partner, "/current/cancel"), headers=auth)
    assert cancelled.status_code == 200
    assert cancelled.json() == {"handoff_id": first, "status": "cancelled"}
    assert client.post(_path(partner, "/current/cancel"), headers=auth).status_code == 404
    second = _ask(client, auth, partner, key="wa:m9")
    assert second.status_code == 201 and second.json()["handoff_id"] != first


def test_cancel_after_an_agent_claimed_is_refused(
    client: TestClient, auth: dict[str, str], session: Session
) -> None:
    partner = new_partner(session)
    handoff_id = _ask(client, auth, partner).json()["handoff_id"]
    agent = hu.console_user(session)
    handoffs.claim(session, handoff_id, agent, notify=lambda _h: None)
    refused = client.post(_path(partner, "/current/cancel"), headers=auth)
    assert refused.status_code == 409
    assert refused.json() == {"detail": "an agent has already taken this chat"}


def test_the_database_allows_one_open_handoff_per_partner(db: TestDB, session: Session) -> None:
    partner = new_partner(session)
    workers = 12

    def task(s: Session, index: int) -> int:
        member = s.get(Partner, partner.id)
        assert member is not None
        result = handoffs.request(
            s, member, reason=HandoffReason.REQUESTED, idempotency_key=f"wa:race-{index}"
        )
        return result.handoff.id

    ids = race(db, workers, task)
    assert len(set(ids)) == 1
    assert session.scalar(select(func.count()).select_from(Handoff)) == 1


def test_two_concurrent_posts_open_one_handoff(
    db: TestDB, client: TestClient, auth: dict[str, str], session: Session
) -> None:
    """Over HTTP: two requests for one partner at once -> one open hand-off, one 201."""
    import threading

    partner = new_partner(session)
    barrier = threading.Barrier(2)
    answers: list[tuple[int, int]] = []

    def post(key: str) -> None:
        worker = TestClient(app)
        barrier.wait(timeout=10)
        response = _ask(worker, auth, partner, key=key)
        answers.append((response.status_code, response.json()["handoff_id"]))

    threads = [threading.Thread(target=post, args=(f"wa:p{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(code for code, _ in answers) == [200, 201]
    assert len({handoff_id for _, handoff_id in answers}) == 1


# --- the no-agent notice --------------------------------------------------------------------


def _provider(db: TestDB) -> handoff_timeouts.SessionProvider:
    from app.core.db import make_session_factory

    factory = make_session_factory(db.engine)

    def provide() -> Any:
        with factory() as s:
            yield s

    return provide


def _waiting(session: Session, minutes_ago: int) -> Handoff:
    partner = new_partner(session)
    result = handoffs.request(
        session,
        partner,
        reason=HandoffReason.REQUESTED,
        idempotency_key=f"wa:t-{partner.id}",
        now=utcnow() - timedelta(minutes=minutes_ago),
    )
    return result.handoff


def test_no_agent_notice_once_per_waiting_period(
    db: TestDB, session: Session, rasa: hu.FakeRasa, always_open: None
) -> None:
    due = _waiting(session, minutes_ago=11)
    _waiting(session, minutes_ago=5)  # not yet
    provider = _provider(db)
    client = get_rasa_client()

    assert asyncio.run(handoff_timeouts.run_once(provider, client)) == 1
    assert rasa.posted() == [
        (
            f"/conversations/{due.wa_id}/tracker/events",
            "execute_side_effects=true&output_channel=whatsapp",
            {"event": "resume"},
        ),
        (
            f"/conversations/{due.wa_id}/trigger_intent",
            "include_events=NONE&output_channel=whatsapp",
            {"name": "EXTERNAL_handoff_timeout"},
        ),
    ]
    assert all(call.query["token"] == hu.RASA_TOKEN for call in rasa.calls)
    # Idempotent: the next round does not tell the partner again...
    assert asyncio.run(handoff_timeouts.run_once(provider, client)) == 0
    assert len(rasa.calls) == 2
    # ...until the partner chooses to keep waiting and waits out the timeout again.
    partner = session.get(Partner, due.partner_id)
    assert partner is not None
    handoffs.keep_waiting(session, partner, now=utcnow() - timedelta(minutes=11))
    assert asyncio.run(handoff_timeouts.run_once(provider, client)) == 1
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.action == "handoff.no_agent_notice")
    ).all()
    assert len(actions) == 2


def test_no_agent_notice_retried_when_rasa_fails(
    db: TestDB, session: Session, rasa: hu.FakeRasa, always_open: None
) -> None:
    due = _waiting(session, minutes_ago=30)
    provider = _provider(db)
    rasa.fail_with, rasa.fail_paths = 500, ("trigger_intent",)
    assert asyncio.run(handoff_timeouts.run_once(provider, get_rasa_client())) == 0
    session.commit()  # a fresh snapshot
    session.expire_all()
    handoff = session.get(Handoff, due.id)
    assert handoff is not None and handoff.timeout_notified_at is None
    rasa.fail_with = None
    assert asyncio.run(handoff_timeouts.run_once(provider, get_rasa_client())) == 1
    session.commit()  # a fresh snapshot
    session.expire_all()
    handoff = session.get(Handoff, due.id)
    assert handoff is not None and handoff.timeout_notified_at is not None


def test_no_notice_when_support_is_closed_or_an_agent_claimed(
    db: TestDB, session: Session, rasa: hu.FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed = _waiting(session, minutes_ago=30)
    handoffs.claim(session, claimed.id, hu.console_user(session), notify=lambda _h: None)
    _waiting(session, minutes_ago=30)
    monkeypatch.setattr(settings, "SUPPORT_HOURS_ALWAYS_OPEN", False)
    assert asyncio.run(handoff_timeouts.run_once(_provider(db), get_rasa_client())) == 0
    monkeypatch.setattr(settings, "SUPPORT_HOURS_ALWAYS_OPEN", True)
    monkeypatch.setattr(settings, "HANDOFF_TIMEOUT_SECONDS", 3600)
    assert asyncio.run(handoff_timeouts.run_once(_provider(db), get_rasa_client())) == 0
    monkeypatch.setattr(settings, "HANDOFF_TIMEOUT_SECONDS", 60)
    assert asyncio.run(handoff_timeouts.run_once(_provider(db), get_rasa_client())) == 1
    assert rasa.calls and all(claimed.wa_id not in c.path for c in rasa.calls)


def test_the_background_task_starts_and_stops_with_the_app(
    db: TestDB, session: Session, rasa: hu.FakeRasa, always_open: None
) -> None:
    """The lifespan's task runs a round at start-up (here: one due hand-off) and is
    cancelled cleanly at shutdown."""
    from app.api.deps import get_db

    due = _waiting(session, minutes_ago=30)
    app.dependency_overrides[get_db] = _provider(db)
    try:
        with TestClient(app):
            for _ in range(100):
                if len(rasa.calls) >= 2:
                    break
                import time

                time.sleep(0.05)
    finally:
        app.dependency_overrides.pop(get_db, None)
    assert [c.path for c in rasa.calls] == [
        f"/conversations/{due.wa_id}/tracker/events",
        f"/conversations/{due.wa_id}/trigger_intent",
    ]
