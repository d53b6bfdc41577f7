"""The support console's JSON API and pages, against a fake Rasa on a loopback port."""

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.main import app
from app.models import AuditLog, ConsoleUser, Handoff
from app.models.console_user import ConsoleRole
from tests import handoff_utils as hu
from tests.conftest import TestDB
from tests.utils import new_partner

rasa = hu.rasa
always_open = hu.always_open

AGENT, OTHER, ADMIN = "agent@example.com", "other@example.com", "admin@example.com"
DOWN = {"detail": "the chat service is unavailable; try again"}
EVENTS_QUERY = "execute_side_effects=true&output_channel=whatsapp"


@pytest.fixture
def agents(session: Session) -> dict[str, ConsoleUser]:
    return {
        AGENT: hu.console_user(session, AGENT, name="Ayu Agent"),
        OTHER: hu.console_user(session, OTHER, name="Oki Other"),
        ADMIN: hu.console_user(session, ADMIN, ConsoleRole.ADMIN, name="Adi Admin"),
    }


def _headers(csrf: str) -> dict[str, str]:
    return {"X-CSRF-Token": csrf}


def _status(session: Session, handoff_id: int) -> str:
    session.commit()
    session.expire_all()
    handoff = session.get(Handoff, handoff_id)
    assert handoff is not None
    return handoff.status


# --- sign-in --------------------------------------------------------------------------------


def test_login_me_logout(client: TestClient, agents: dict[str, ConsoleUser]) -> None:
    response = client.post("/console/api/login", json={"email": " Agent@Example.com ",
                                                        "password": hu.PASSWORD})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {
        "id": agents[AGENT].id,
        "email": AGENT,
        "name": "Ayu Agent",
        "role": "agent",
    }
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("mitra_console=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # test runs over plain http; production sets it
    me = client.get("/console/api/me")
    assert me.status_code == 200 and me.json() == body
    assert me.headers["Cache-Control"] == "no-store"
    assert client.post("/console/api/logout").status_code == 403  # no CSRF token
    assert client.post("/console/api/logout", headers=_headers(body["csrf_token"])).json() == {
        "signed_out": True
    }
    assert client.get("/console/api/me").status_code == 401


def test_the_session_token_is_stored_hashed(
    client: TestClient, session: Session, agents: dict[str, ConsoleUser]
) -> None:
    from app.models import ConsoleSession

    hu.sign_in(client, AGENT)
    token = client.cookies.get("mitra_console")
    assert token
    stored = session.scalars(select(ConsoleSession)).one()
    assert stored.token_hash != token and token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(hours=8)


def test_wrong_and_unknown_logins_look_the_same(
    client: TestClient, agents: dict[str, ConsoleUser]
) -> None:
    wrong = client.post("/console/api/login", json={"email": AGENT, "password": "nope"})
    unknown = client.post("/console/api/login", json={"email": "x@y.z", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong email or password"}
    assert "set-cookie" not in wrong.headers


def test_five_failures_lock_the_account(
    client: TestClient, session: Session, agents: dict[str, ConsoleUser]
) -> None:
    for _ in range(5):
        bad = client.post("/console/api/login", json={"email": AGENT, "password": "nope"})
        assert bad.status_code == 401
    locked = client.post("/console/api/login", json={"email": AGENT, "password": hu.PASSWORD})
    assert locked.status_code == 423 and "15 minutes" in locked.json()["detail"]
    # Another account is not affected.
    assert hu.sign_in(client, OTHER)
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.actor == f"console:{agents[AGENT].id}")
    ).all()
    assert actions.count("console.login_failed") == 5


def test_validation_errors_are_one_reason(client: TestClient) -> None:
    response = client.post("/console/api/login", json={"email": "a@b.c"})
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str) and "password" in response.json()["detail"]


# --- the chat flow --------------------------------------------------------------------------


def test_queue_claim_reply_hand_back(
    client: TestClient,
    auth: dict[str, str],
    session: Session,
    rasa: hu.FakeRasa,
    agents: dict[str, ConsoleUser],
    always_open: None,
) -> None:
    first = new_partner(session, name="Budi", shop_name="Toko Budi")
    second = new_partner(session, name="Sari")
    older = hu.waiting_handoff(client, auth, first, "wa:a")
    newer = hu.waiting_handoff(client, auth, second, "wa:b")
    csrf = hu.sign_in(client, AGENT)

    items = client.get("/console/api/handoffs").json()["items"]
    assert [i["id"] for i in items] == [older, newer]
    assert items[0] == {
        "id": older,
        "wa_id": first.wa_id,
        "partner_name": "Budi",
        "shop_name": "Toko Budi",
        "tier": items[0]["tier"],
        "language": "id",
        "reason": "requested",
        "status": "waiting",
        "requested_at": items[0]["requested_at"],
        "last_message": "tolong",
        "claimed_by": None,
    }

    # State-changing requests need the CSRF token.
    assert client.post(f"/console/api/handoffs/{older}/claim").status_code == 403
    claimed = client.post(f"/console/api/handoffs/{older}/claim", headers=_headers(csrf))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "active"
    assert claimed.json()["claimed_by"] == {"id": agents[AGENT].id, "name": "Ayu Agent"}
    assert rasa.posted() == [
        (f"/conversations/{first.wa_id}/tracker/events", EVENTS_QUERY, {"event": "pause"})
    ]
    assert rasa.calls[0].query["token"] == hu.RASA_TOKEN
    # Claiming one's own chat again changes nothing; another agent cannot take it.
    again = client.post(f"/console/api/handoffs/{older}/claim", headers=_headers(csrf))
    assert again.status_code == 200 and len(rasa.calls) == 1
    with TestClient(app) as other:
        other_csrf = hu.sign_in(other, OTHER)
        taken = other.post(f"/console/api/handoffs/{older}/claim", headers=_headers(other_csrf))
        assert taken.status_code == 409
        assert taken.json() == {"detail": "this chat is already claimed by another agent"}
        not_theirs = other.post(
            f"/console/api/handoffs/{older}/messages",
            json={"text": "halo"},
            headers=_headers(other_csrf),
        )
        assert not_theirs.status_code == 409
        assert other.post(
            f"/console/api/handoffs/{older}/hand-back", headers=_headers(other_csrf)
        ).status_code == 409  # fmt: skip

    sent = client.post(
        f"/console/api/handoffs/{older}/messages",
        json={"text": "  Halo Pak Budi, saya Ayu.  "},
        headers=_headers(csrf),
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()["message"]
    assert message["from"] == "agent" and message["text"] == "Halo Pak Budi, saya Ayu."
    assert message["agent_name"] == "Ayu Agent" and message["buttons"] == []
    assert rasa.posted()[-1] == (
        f"/conversations/{first.wa_id}/tracker/events",
        EVENTS_QUERY,
        {
            "event": "bot",
            "text": "Halo Pak Budi, saya Ayu.",
            "metadata": {"agent": {"id": agents[AGENT].id, "name": "Ayu Agent"}},
        },
    )
    for text, reason in (("   ", "empty"), ("x" * 4097, "4,096")):
        bad = client.post(
            f"/console/api/handoffs/{older}/messages", json={"text": text}, headers=_headers(csrf)
        )
        assert bad.status_code == 422 and reason in bad.json()["detail"]
    # A waiting chat must be claimed first.
    unclaimed = client.post(
        f"/console/api/handoffs/{newer}/messages", json={"text": "hi"}, headers=_headers(csrf)
    )
    assert unclaimed.status_code == 409

    calls_before = len(rasa.calls)
    back = client.post(f"/console/api/handoffs/{older}/hand-back", headers=_headers(csrf))
    assert back.status_code == 200 and back.json() == {"status": "closed"}
    assert rasa.posted()[calls_before:] == [
        (f"/conversations/{first.wa_id}/tracker/events", EVENTS_QUERY, {"event": "resume"}),
        (
            f"/conversations/{first.wa_id}/trigger_intent",
            "include_events=NONE&output_channel=whatsapp",
            {"name": "EXTERNAL_handback"},
        ),
    ]
    assert _status(session, older) == "closed"
    assert [i["id"] for i in client.get("/console/api/handoffs").json()["items"]] == [newer]
    actions = session.scalars(
        select(AuditLog.action)
        .where(AuditLog.actor == f"console:{agents[AGENT].id}", AuditLog.entity == "handoff")
        .order_by(AuditLog.id)
    ).all()
    assert actions == ["handoff.claimed", "handoff.message_sent", "handoff.handed_back"]


def test_an_admin_may_answer_and_hand_back_anothers_chat(
    client: TestClient,
    auth: dict[str, str],
    session: Session,
    rasa: hu.FakeRasa,
    agents: dict[str, ConsoleUser],
) -> None:
    handoff_id = hu.waiting_handoff(client, auth, new_partner(session))
    with TestClient(app) as agent:
        csrf = hu.sign_in(agent, AGENT)
        assert agent.post(
            f"/console/api/handoffs/{handoff_id}/claim", headers=_headers(csrf)
        ).status_code == 200  # fmt: skip
    csrf = hu.sign_in(client, ADMIN)
    sent = client.post(
        f"/console/api/handoffs/{handoff_id}/messages", json={"text": "ok"}, headers=_headers(csrf)
    )
    assert sent.status_code == 201 and sent.json()["message"]["agent_name"] == "Adi Admin"
    back = client.post(f"/console/api/handoffs/{handoff_id}/hand-back", headers=_headers(csrf))
    assert back.status_code == 200


def test_rasa_down_changes_nothing(
    client: TestClient,
    auth: dict[str, str],
    session: Session,
    agents: dict[str, ConsoleUser],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handoff_id = hu.waiting_handoff(client, auth, new_partner(session))
    csrf = hu.sign_in(client, AGENT)
    hu.rasa_down(monkeypatch)
    claim = client.post(f"/console/api/handoffs/{handoff_id}/claim", headers=_headers(csrf))
    assert claim.status_code == 503 and claim.json() == DOWN
    assert _status(session, handoff_id) == "waiting"
    transcript = client.get(f"/console/api/handoffs/{handoff_id}/transcript")
    assert transcript.status_code == 503 and transcript.json() == DOWN
    # The chat's page still opens: the window is judged from the request itself.
    detail = client.get(f"/console/api/handoffs/{handoff_id}")
    assert detail.status_code == 200 and detail.json()["window_open"] is True


def test_hand_back_closes_only_after_rasa_accepted(
    client: TestClient,
    auth: dict[str, str],
    session: Session,
    rasa: hu.FakeRasa,
    agents: dict[str, ConsoleUser],
) -> None:
    handoff_id = hu.waiting_handoff(client, auth, new_partner(session))
    csrf = hu.sign_in(client, AGENT)
    client.post(f"/console/api/handoffs/{handoff_id}/claim", headers=_headers(csrf))
    rasa.fail_with, rasa.fail_paths = 500, ("trigger_intent",)
    refused = client.post(f"/console/api/handoffs/{handoff_id}/hand-back", headers=_headers(csrf))
    assert refused.status_code == 502 and refused.json() == DOWN
    assert _status(session, handoff_id) == "active"
    sent = client.post(
        f"/console/api/handoffs/{handoff_id}/messages", json={"text": "x"}, headers=_headers(csrf)
    )
    assert sent.status_code == 201
    rasa.fail_with = None
    assert client.post(
        f"/console/api/handoffs/{handoff_id}/hand-back", headers=_headers(csrf)
    ).status_code == 200  # fmt: skip
    assert _status(session, handoff_id) == "closed"


def test_without_rasa_token_the_chat_actions_are_unavailable(
    client: TestClient, auth: dict[str, str], session: Session, agents: dict[str, ConsoleUser]
) -> None:
    handoff_id = hu.waiting_handoff(client, auth, new_partner(session))
    csrf = hu.sign_in(client, AGENT)
    claim = client.post(f"/console/api/handoffs/{handoff_id}/claim", headers=_headers(csrf))
    assert claim.status_code == 503 and claim.json() == DOWN


def test_detail_and_transcript(
    client: TestClient,
    auth: dict[str, str],
    session: Session,
    rasa: hu.FakeRasa,
    agents: dict[str, ConsoleUser],
) -> None:
    partner = new_partner(session, name="Budi", shop_name="Toko Budi", region="Bali")
    handoff_id = hu.waiting_handoff(client, auth, partner)
    recent = (utcnow() - timedelta(hours=2)).timestamp()
    rasa.events = [
        {"event": "bot", "timestamp": recent - 5, "text": "Mau apa?",
         "data": {"buttons": [{"title": "Cek saldo", "payload": "/check_balance"}]}},
        {"event": "user", "timestamp": recent, "text": "/check_balance"},
        {"event": "pause", "timestamp": recent + 1},
    ]  # fmt: skip
    hu.sign_in(client, AGENT)
    detail = client.get(f"/console/api/handoffs/{handoff_id}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["id"] == handoff_id and body["status"] == "waiting"
    assert body["partner"] == {
        "name": "Budi",
        "shop": "Toko Budi",
        "tier": body["tier"],
        "language": "id",
        "balance": 0,
        "region": "Bali",
        "role": "retailer",
    }
    assert body["recent_claims"] == [] and body["recent_redemptions"] == []
    assert body["window_open"] is True and body["last_partner_message_at"]
    messages = client.get(f"/console/api/handoffs/{handoff_id}/transcript").json()["messages"]
    assert [(m["from"], m["text"]) for m in messages] == [
        ("bot", "Mau apa?"),
        ("partner", "Cek saldo"),
        ("system", messages[2]["text"]),
    ]
    assert messages[0]["buttons"] == ["Cek saldo"]
    assert client.get("/console/api/handoffs/999999").status_code == 404


def test_canned_replies(client: TestClient, agents: dict[str, ConsoleUser]) -> None:
    hu.sign_in(client, AGENT)
    items = client.get("/console/api/canned-replies").json()["items"]
    assert len(items) >= 6
    assert all(set(i) == {"key", "title", "text"} and set(i["text"]) == {"id", "en"}
               for i in items)  # fmt: skip


def test_pages_and_security_headers(client: TestClient, agents: dict[str, ConsoleUser]) -> None:
    for path in ("/console", "/console/chats/1"):
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/login"
    login = client.get("/console/login")
    assert login.status_code == 200 and "text/html" in login.headers["content-type"]
    assert login.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert login.headers["X-Frame-Options"] == "DENY"
    assert login.headers["Referrer-Policy"] == "no-referrer"
    hu.sign_in(client, AGENT)
    for path in ("/console", "/console/chats/1"):
        page = client.get(path, follow_redirects=False)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert page.headers["Cache-Control"] == "no-store"


def test_two_agents_claim_at_once_one_wins(
    db: TestDB,
    client: TestClient,
    auth: dict[str, str],
    session: Session,
    rasa: hu.FakeRasa,
    agents: dict[str, ConsoleUser],
) -> None:
    handoff_id = hu.waiting_handoff(client, auth, new_partner(session))
    browsers = [TestClient(app), TestClient(app)]
    tokens = [hu.sign_in(browsers[0], AGENT), hu.sign_in(browsers[1], OTHER)]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def claim(index: int) -> None:
        barrier.wait(timeout=10)
        response = browsers[index].post(
            f"/console/api/handoffs/{handoff_id}/claim", headers=_headers(tokens[index])
        )
        codes.append(response.status_code)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [200, 409]
    assert [c.body for c in rasa.calls] == [{"event": "pause"}]
    assert _status(session, handoff_id) == "active"
