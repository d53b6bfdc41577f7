"""The connector's reports and the admin's view of notices (issue 21)."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import write_transaction
from app.models import Notification
from app.services import notifications
from tests.utils import new_partner

NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


def _leased(session: Session) -> tuple[str, list[int]]:
    partner = new_partner(session)
    with write_transaction(session):
        for n in range(2):
            notifications.enqueue(
                session, partner, "tier_up", {"tier": "Gold"}, dedupe_key=f"k{n}", group_key="G",
                now=NOW,
            )  # fmt: skip
    [group] = notifications.lease_due(session, NOW)
    notifications.mark_handed(session, group.ids, delivery="session", now=NOW)
    return partner.wa_id, group.ids


def _statuses(session: Session) -> list[tuple[str, int | None]]:
    session.commit()
    rows = session.scalars(select(Notification).order_by(Notification.id))
    return [(row.status, row.last_error_code) for row in rows]


def test_a_send_report_then_status_webhooks(
    client: TestClient, session: Session, whatsapp_auth: dict[str, str]
) -> None:
    _, ids = _leased(session)
    body = {"ids": ids, "ok": True, "wamid": "wamid.X", "error_code": None, "error": None}
    answer = client.post("/api/v1/notifications/sends", json=body, headers=whatsapp_auth)
    assert answer.status_code == 200 and answer.json() == {"changed": 2}
    again = client.post("/api/v1/notifications/sends", json=body, headers=whatsapp_auth)
    assert again.json() == {"changed": 0}
    statuses = {
        "statuses": [
            {"wamid": "wamid.X", "status": "delivered", "timestamp": 1795000000},
            {"wamid": "wamid.other", "status": "read", "timestamp": 1795000001},
        ]
    }
    answer = client.post("/api/v1/notifications/statuses", json=statuses, headers=whatsapp_auth)
    assert answer.status_code == 200 and answer.json() == {"matched": 1}
    assert _statuses(session) == [("delivered", None), ("delivered", None)]


def test_a_failed_send_is_recorded_with_its_code(
    client: TestClient, session: Session, whatsapp_auth: dict[str, str]
) -> None:
    _, ids = _leased(session)
    body = {"ids": ids, "ok": False, "wamid": None, "error_code": 131026, "error": "undeliverable"}
    answer = client.post("/api/v1/notifications/sends", json=body, headers=whatsapp_auth)
    assert answer.json() == {"changed": 2}
    assert _statuses(session) == [("failed", 131026), ("failed", 131026)]


def test_invalid_reports_are_422(client: TestClient, whatsapp_auth: dict[str, str]) -> None:
    for body in ({"ids": [], "ok": True}, {"ids": [1], "ok": True, "extra": 1}, {}):
        answer = client.post("/api/v1/notifications/sends", json=body, headers=whatsapp_auth)
        assert answer.status_code == 422
    bad = {"statuses": [{"wamid": "w", "status": "exploded", "timestamp": 1}]}
    answer = client.post("/api/v1/notifications/statuses", json=bad, headers=whatsapp_auth)
    assert answer.status_code == 422 and "detail" in answer.json()


def test_only_the_whatsapp_caller_reports(
    client: TestClient, admin_auth: dict[str, str], auth: dict[str, str]
) -> None:
    body = {"ids": [1], "ok": True}
    for headers in (admin_auth, auth):
        answer = client.post("/api/v1/notifications/sends", json=body, headers=headers)
        assert answer.status_code == 403


def test_the_admin_sees_what_was_sent_and_why_it_failed(
    client: TestClient, session: Session, admin_auth: dict[str, str], whatsapp_auth: dict[str, str]
) -> None:
    wa_id, ids = _leased(session)
    notifications.record_send(session, ids[:1], False, None, 131026, "undeliverable", NOW)
    answer = client.get(
        "/api/v1/admin/notifications", params={"wa_id": wa_id, "status": "failed"},
        headers=admin_auth,
    )  # fmt: skip
    assert answer.status_code == 200
    [item] = answer.json()["items"]
    assert (item["id"], item["kind"], item["last_error_code"], item["last_error"]) == (
        ids[0],
        "tier_up",
        131026,
        "undeliverable",
    )
    everything = client.get("/api/v1/admin/notifications", headers=admin_auth).json()["items"]
    assert [item["id"] for item in everything] == sorted(ids, reverse=True)
    assert client.get("/api/v1/admin/notifications", headers=whatsapp_auth).status_code == 403
    bad = client.get("/api/v1/admin/notifications?status=nope", headers=admin_auth)
    assert bad.status_code == 422
