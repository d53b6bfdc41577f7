"""Helpers for the hand-off and console tests: a fake Rasa on a real loopback port,
console users and signed-in clients."""

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session

from app.core.config import settings
from app.models import ConsoleUser, Partner
from app.models.console_user import ConsoleRole
from app.services import console_auth
from tests.utils import new_partner

PASSWORD = "correct horse battery staple"
RASA_TOKEN = secrets.token_urlsafe(32)


@dataclass
class RasaCall:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeRasa:
    """Rasa's HTTP API as far as the backend uses it. ``fail_with``: answer that status to
    everything; ``fail_paths``: only to paths containing one of these."""

    url: str = ""
    calls: list[RasaCall] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None
    fail_paths: tuple[str, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, raw_path: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.calls.append(RasaCall(method, parts.path, query, body))
        if query.get("token") != RASA_TOKEN:
            return 401, {"message": "bad token"}
        if self.fail_with and (
            not self.fail_paths or any(p in parts.path for p in self.fail_paths)
        ):
            return self.fail_with, {"message": "failing on purpose"}
        if method == "GET" and parts.path.endswith("/tracker"):
            return 200, {"sender_id": parts.path.split("/")[2], "events": self.events}
        return 200, {"ok": True}

    def posted(self) -> list[tuple[str, str, Any]]:
        """(path, sorted query without the token, body) of every POST, in order."""
        return [
            (c.path, "&".join(f"{k}={v}" for k, v in sorted(c.query.items()) if k != "token"),
             c.body)
            for c in self.calls
            if c.method == "POST"
        ]  # fmt: skip


def _handler(fake: FakeRasa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, payload = fake.answer(method, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def rasa(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRasa]:
    """A fake Rasa on a free loopback port; the backend is pointed at it."""
    fake = FakeRasa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(settings, "RASA_URL", fake.url)
    monkeypatch.setattr(settings, "RASA_AUTH_TOKEN", SecretStr(RASA_TOKEN))
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def rasa_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the backend at a loopback port nobody listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(settings, "RASA_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(settings, "RASA_AUTH_TOKEN", SecretStr(RASA_TOKEN))


@pytest.fixture
def always_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "SUPPORT_HOURS_ALWAYS_OPEN", True)


def console_user(
    session: Session,
    email: str = "agent@example.com",
    role: ConsoleRole = ConsoleRole.AGENT,
    name: str | None = None,
) -> ConsoleUser:
    user, _ = console_auth.ensure_user(
        session, email=email, name=name or email.split("@")[0].title(), role=role,
        password=PASSWORD,
    )  # fmt: skip
    return user


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in (its cookie jar keeps the session); returns the CSRF token."""
    response = client.post("/console/api/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def waiting_handoff(
    client: TestClient, auth: dict[str, str], partner: Partner, key: str = "wa:wamid.1"
) -> int:
    response = client.post(
        f"/api/v1/partners/by-wa/{partner.wa_id}/handoffs",
        json={"reason": "requested", "idempotency_key": key, "last_message": "tolong"},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    return response.json()["handoff_id"]


def partner_for_chat(session: Session, **kwargs: Any) -> Partner:
    return new_partner(session, **kwargs)
