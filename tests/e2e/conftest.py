"""End-to-end fixtures: the real backend, action server, Rasa with the WhatsApp connector
and the WhatsApp sandbox, each started as its own process on a free port."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.support.processes import (
    SERVICE_TOKEN,
    Process,
    free_port,
    running,
    start_action_server,
    start_backend,
    start_rasa,
    start_sandbox,
    write_endpoints,
)

WEBHOOK_PATH = "/webhooks/whatsapp/webhook"


@dataclass
class Stack:
    backend: Process
    actions: Process
    sandbox: Process
    rasa: Process

    def backend_get(self, path: str) -> Any:
        response = requests.get(
            f"{self.backend.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=5,
        )
        response.raise_for_status()
        return response.json()


def sent_to(sandbox: Process, wa_id: str) -> list[dict[str, Any]]:
    """What the bot sent to ``wa_id`` so far, as Cloud API payloads, in order."""
    response = requests.get(f"{sandbox.url}/sandbox/messages", params={"to": wa_id}, timeout=5)
    response.raise_for_status()
    body = response.json()
    records = body["messages"] if isinstance(body, dict) else body
    return [record["payload"] for record in records]


def wait_for_messages(
    sandbox: Process, wa_id: str, count: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        messages = [m for m in sent_to(sandbox, wa_id) if m.get("type") != "read"]
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        time.sleep(0.2)


def inbound(sandbox: Process, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{sandbox.url}/sandbox/inbound", json=body, timeout=10)
    response.raise_for_status()
    result = response.json()
    assert result["webhook_status"] == 200, result
    return result


def message_text(payload: dict[str, Any]) -> str:
    """The visible text of a Cloud API message payload (text or interactive body)."""
    if payload.get("type") == "text":
        return payload["text"]["body"]
    if payload.get("type") == "interactive":
        return payload["interactive"]["body"]["text"]
    return ""


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("e2e")
    backend = start_backend(log_dir, f"sqlite:///{log_dir / 'mitra.db'}")
    actions = start_action_server(log_dir, backend.url)
    rasa_port = free_port()
    sandbox = start_sandbox(log_dir, f"http://127.0.0.1:{rasa_port}{WEBHOOK_PATH}")
    endpoints = write_endpoints(
        log_dir / "endpoints.yml", actions.url,
        f"  type: SQL\n  dialect: sqlite\n  db: {log_dir / 'tracker.db'}\n",
    )
    rasa = start_rasa(log_dir, endpoints, graph_url=sandbox.url, port=rasa_port)
    with running(backend, actions, sandbox, rasa):
        yield Stack(backend=backend, actions=actions, sandbox=sandbox, rasa=rasa)
