"""Every support console route, walked from the app itself: who may call it.

The console's callers are signed-in people (session cookie + CSRF token), never the API's
bearer tokens. Routes are read from the app, so a new console route is checked the moment
it exists: anonymous callers and every bearer token get 401 (API) or a redirect to the
login page (pages); a state-changing API route without X-CSRF-Token gets 403; a signed-in
agent gets through (anything but 401/403).
"""

from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.console import STATIC_PATH, is_console_path
from app.core.security import CALLERS
from app.main import app
from tests import handoff_utils as hu
from tests.conftest import bearer

# Public: the login page and the call that signs in (static assets are a mount).
PUBLIC = frozenset({("GET", "/console/login"), ("POST", "/console/api/login")})
PATH_VALUES = {"handoff_id": "1"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str

    @property
    def url(self) -> str:
        return self.path.format(**PATH_VALUES)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/console/api/")

    @property
    def changes_state(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def console_operations() -> list[Operation]:
    found = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        path = route.path_format
        if not is_console_path(path) or path.startswith(STATIC_PATH):
            continue
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            if (method, path) not in PUBLIC:
                found.append(Operation(method, path))
    return found


OPERATIONS = console_operations()


def test_the_walk_sees_the_console() -> None:
    seen = {str(op) for op in OPERATIONS}
    assert {
        "GET /console",
        "GET /console/chats/{handoff_id}",
        "GET /console/api/me",
        "POST /console/api/logout",
        "GET /console/api/handoffs",
        "GET /console/api/handoffs/{handoff_id}",
        "GET /console/api/handoffs/{handoff_id}/transcript",
        "POST /console/api/handoffs/{handoff_id}/claim",
        "POST /console/api/handoffs/{handoff_id}/messages",
        "POST /console/api/handoffs/{handoff_id}/hand-back",
        "GET /console/api/canned-replies",
    } <= seen


def _refused(op: Operation, response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    if op.is_api:
        assert status == 401, (str(op), response.text)  # type: ignore[attr-defined]
        assert response.json() == {"detail": "sign in to the support console"}  # type: ignore[attr-defined]
    else:
        assert status == 303, str(op)
        assert response.headers["location"] == "/console/login"  # type: ignore[attr-defined]


@pytest.mark.parametrize("op", OPERATIONS, ids=str)
def test_anonymous_and_bearer_callers_are_refused(client: TestClient, op: Operation) -> None:
    attempts = [{}, {"X-CSRF-Token": "anything"}]
    attempts += [{**bearer(caller.secret_var), "X-CSRF-Token": "x"} for caller in CALLERS]
    for headers in attempts:
        response = client.request(
            op.method, op.url, json={"text": "hi"}, headers=headers, follow_redirects=False
        )
        _refused(op, response)


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.is_api and op.changes_state], ids=str)
def test_state_changes_need_the_csrf_token(
    client: TestClient, session: Session, op: Operation
) -> None:
    hu.console_user(session)
    csrf = hu.sign_in(client, "agent@example.com")
    for headers in ({}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": csrf[:-1] + "?"}):
        response = client.request(op.method, op.url, json={"text": "hi"}, headers=headers)
        assert response.status_code == 403, (str(op), response.text)
        assert response.json() == {"detail": "missing or invalid CSRF token"}


@pytest.mark.parametrize("op", OPERATIONS, ids=str)
def test_a_signed_in_agent_gets_through(
    client: TestClient, session: Session, op: Operation
) -> None:
    hu.console_user(session)
    csrf = hu.sign_in(client, "agent@example.com")
    response = client.request(
        op.method, op.url, json={"text": "hi"}, headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code not in (401, 403), (str(op), response.text)
    if not op.is_api:
        assert response.status_code == 200


def test_an_expired_or_forged_cookie_is_no_session(client: TestClient, session: Session) -> None:
    from datetime import timedelta

    from app.models import ConsoleSession

    hu.console_user(session)
    hu.sign_in(client, "agent@example.com")
    row = session.query(ConsoleSession).one()
    row.expires_at = row.created_at - timedelta(seconds=1)
    session.commit()
    assert client.get("/console/api/me").status_code == 401
    client.cookies.set("mitra_console", "forged", path="/console")
    assert client.get("/console/api/me").status_code == 401
