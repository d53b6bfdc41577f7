"""A stand-in for the loyalty backend that records every request and answers from a
function, for tests about what reaches the backend and when (auth, concurrency, status).
Figures come from the real backend in the other action tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    authorization: str | None
    body: bytes = b""
    content_type: str | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Answer = tuple[int, Any]
Responder = Callable[[Seen], Answer]


def balance_body(points: int = 1234) -> dict[str, Any]:
    return {
        "available_points": points,
        "lifetime_earned": points,
        "as_of": "2026-01-15T03:00:00+00:00",
        "expiring_soon_points": 0,
        "expiring_soon_date": None,
    }


def answer_balance(seen: Seen) -> Answer:
    return 200, balance_body()


class FakeBackend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, respond: Responder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond = respond
        self.seen: list[Seen] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def handle_error(self, request, client_address) -> None:
        pass  # a client hanging up on a held answer is expected in these tests


class _Handler(BaseHTTPRequestHandler):
    server: FakeBackend

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, self.headers.get("Authorization"), data,
                    self.headers.get("Content-Type"))
        self.server.seen.append(seen)
        status, body = self.server.respond(seen)
        raw = isinstance(body, bytes)  # media bytes (the fake Graph API's download)
        payload = body if raw else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "image/jpeg" if raw else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


@contextmanager
def fake_backend(respond: Responder = answer_balance) -> Iterator[FakeBackend]:
    server = FakeBackend(respond)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
