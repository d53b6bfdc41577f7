"""Helpers for the WhatsApp connector tests: fixture loading, the one builder of Meta's
webhook envelope, signing and posting, the one wait-until helper, a real Sanic server on
a free port, and a small fake Graph API (aiohttp) that records and can fail."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sanic import Sanic

from connectors.config import WhatsAppConfig
from connectors.signature import sign

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "whatsapp"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "100000000000001"
WEBHOOK_PATH = "/webhooks/whatsapp/webhook"


def load_fixture(name: str) -> Any:
    return json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def signed_headers(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, body)}


def make_config(base_url: str = "http://127.0.0.1:9", **overrides: Any) -> WhatsAppConfig:
    """Test settings: an in-memory journal, fast retries (each test may override)."""
    values: dict[str, Any] = {
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "phone_number_id": PHONE_NUMBER_ID,
        "api_base_url": base_url,
        "api_version": "v21.0",
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "send_timeout_seconds": 2.0,
        "shutdown_timeout_seconds": 2.0,
        "queue_path": ":memory:",
        "turn_retry_base_delay": 0.01,
        "turn_retry_max_delay": 0.05,
    }
    values.update(overrides)
    return WhatsAppConfig(**values)


def wamid() -> str:
    return f"wamid.TEST{uuid.uuid4().hex}"


def webhook_envelope(
    messages: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """Meta's webhook body around ``messages[]`` / ``statuses[]`` items (the one builder)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000000", "phone_number_id": phone_number_id},
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "200000000000001", "changes": [{"field": "messages", "value": value}]}],
    }


def text_item(
    wa_id: str, message_id: str, text: str, timestamp: int = 1732500000
) -> dict[str, Any]:
    """One ``messages[]`` item of type text."""
    return {
        "from": wa_id,
        "id": message_id,
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": text},
    }


def text_message_body(
    wa_id: str, message_id: str, text: str, timestamp: int = 1732500000, name: str = "Mitra"
) -> dict[str, Any]:
    """A minimal but realistic single text-message webhook."""
    return webhook_envelope(
        messages=[text_item(wa_id, message_id, text, timestamp)],
        contacts=[{"profile": {"name": name}, "wa_id": wa_id}],
    )


async def post(http: aiohttp.ClientSession, url: str, body: Any, **headers: str) -> int:
    """POST a signed webhook body (dict or raw bytes); returns the status."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=raw, headers={**signed_headers(raw), **headers}) as resp:
        await resp.read()
        return resp.status


@asynccontextmanager
async def serve_sanic(app: Sanic) -> AsyncIterator[str]:
    """Run a Sanic app on a free port inside the current loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


def new_sanic_app() -> Sanic:
    # Test mode lets several apps start in one process (Sanic 21.12 rewrites some
    # methods at startup and, outside test mode, cannot do it twice).
    Sanic.test_mode = True
    return Sanic(f"mitra_test_{uuid.uuid4().hex[:10]}")


@dataclass
class FakeGraph:
    """A tiny Graph API: records POSTs to /{version}/{phone_number_id}/messages."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[tuple[int, dict[str, Any] | None]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    base_url: str = ""
    attempts: int = 0

    def fail_next(self, status: int, count: int = 1, code: int | None = None) -> None:
        error = None
        if code is not None:
            error = {
                "error": {
                    "message": f"(#{code}) test error",
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": "test details"},
                    "fbtrace_id": "AbCdEf",
                }
            }
        self.faults.extend([(status, error)] * count)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Sent messages (mark-as-read calls excluded), in arrival order."""
        return [r["json"] for r in self.requests if r["json"].get("status") != "read"]

    @property
    def read_receipts(self) -> list[str]:
        return [r["json"]["message_id"] for r in self.requests if r["json"].get("status") == "read"]

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        if self.faults:
            status, error = self.faults.pop(0)
            return web.json_response(error or {"error": {"message": "fault"}}, status=status)
        payload = await request.json()
        self.requests.append(
            {
                "path": request.path,
                "authorization": request.headers.get("Authorization"),
                "json": payload,
            }
        )
        if payload.get("status") == "read":
            return web.json_response({"success": True})
        n = len(self.requests)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload.get("to"), "wa_id": payload.get("to")}],
                "messages": [{"id": f"wamid.FAKE{n:04d}"}],
            }
        )


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.005
) -> None:
    """Wait for the state an assertion needs (the one wait helper of these tests).

    A "nothing happened" check must wait for an event that would prove it wrong (a
    later message of the same sender processed), never for a fixed time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@asynccontextmanager
async def serve_channel(channel: Any, on_new_message: Callable[[Any], Any]) -> AsyncIterator[str]:
    """Mount the channel's blueprint as Rasa does and serve it; yields the webhook URL."""
    app = new_sanic_app()
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/whatsapp")
    async with serve_sanic(app) as base_url:
        yield base_url + WEBHOOK_PATH


@dataclass
class TurnRecorder:
    """A stand-in for Rasa's ``on_new_message`` that records turns and concurrency."""

    delay: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)  # by text
    turns: list[Any] = field(default_factory=list)
    started: list[Any] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    active_by_sender: dict[str, int] = field(default_factory=dict)
    max_active_per_sender: int = 0

    async def __call__(self, message: Any) -> None:
        self.started.append(message)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        sender = message.sender_id
        self.active_by_sender[sender] = self.active_by_sender.get(sender, 0) + 1
        self.max_active_per_sender = max(self.max_active_per_sender, self.active_by_sender[sender])
        try:
            await asyncio.sleep(self.delays.get(message.text, self.delay))
            self.turns.append(message)
        finally:
            self.active -= 1
            self.active_by_sender[sender] -= 1

    def texts_for(self, sender: str) -> list[str]:
        return [m.text for m in self.turns if m.sender_id == sender]
