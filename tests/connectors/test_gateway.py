"""The ingress gateway (``python -m connectors.gateway``): the only part of Mitra meant to
face the internet. Every route refuses anonymous and wrongly-signed callers; a signed
message is stored in the journal Rasa reads, never run here; statuses are counted."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sanic import Sanic

from connectors.gateway import BASE_PATH, channel_credentials, create_app
from connectors.sqlite_queue import SqliteInboundQueue
from tests.connectors.test_turn_scheduler import Apologies
from tests.connectors.wa_helpers import (
    FakeGraph,
    load_fixture,
    make_config,
    serve_sanic,
    signed_headers,
    text_message_body,
    wait_until,
    wamid,
)


def gateway_app(journal: Path, base_url: str = "http://127.0.0.1:9", **overrides: Any) -> Sanic:
    Sanic.test_mode = True  # several apps in one process
    config = make_config(base_url, queue_path=str(journal), **overrides)
    return create_app(config, name=f"gateway_test_{uuid.uuid4().hex[:8]}")


def stored(journal: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(journal) as db:
        return db.execute("SELECT message_id, state FROM inbound ORDER BY seq").fetchall()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "inbound.db"


@pytest.fixture
async def gateway(journal: Path, fake_graph: FakeGraph) -> AsyncIterator[str]:
    async with serve_sanic(gateway_app(journal, fake_graph.base_url)) as url:
        yield url


async def request(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, str]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.text()


async def test_every_route_refuses_anonymous_and_wrongly_signed_callers(
    journal: Path, http: aiohttp.ClientSession
) -> None:
    app = gateway_app(journal)
    routes = {(method, "/" + route.path.lstrip("/")) for route in app.router.routes
              for method in route.methods}
    assert routes == {
        ("GET", BASE_PATH), ("GET", f"{BASE_PATH}/webhook"), ("POST", f"{BASE_PATH}/webhook"),
    }, "a new route needs its authorization case here"
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    async with serve_sanic(app) as base:
        for method, path in sorted(routes):
            url = base + path
            if path.endswith("/webhook") and method == "POST":
                assert (await request(http, "POST", url, data=body))[0] == 401
                wrong = signed_headers(body, secret="not-the-app-secret")
                assert (await request(http, "POST", url, data=body, headers=wrong))[0] == 403
            elif path.endswith("/webhook"):
                assert (await request(http, "GET", url))[0] == 403
                wrong = {"hub.mode": "subscribe", "hub.verify_token": "guess",
                         "hub.challenge": "42"}
                assert (await request(http, "GET", url, params=wrong))[0] == 403
            else:  # the health check says it is up, nothing else
                status, text = await request(http, "GET", url)
                assert status == 200 and "ok" in text and "inbound" not in text
    assert not journal.exists() or stored(journal) == []


async def test_meta_verification_handshake(gateway: str, http: aiohttp.ClientSession) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "test-verify-token",
              "hub.challenge": "1158201444"}
    assert await request(http, "GET", gateway + f"{BASE_PATH}/webhook", params=params) == (
        200, "1158201444"
    )


async def test_a_signed_message_is_stored_for_rasa_and_marked_read_never_run_here(
    gateway: str, journal: Path, http: aiohttp.ClientSession, fake_graph: FakeGraph
) -> None:
    import json

    message_id = wamid()
    raw = json.dumps(text_message_body("6281200000001", message_id, "cek poin")).encode()
    url = gateway + f"{BASE_PATH}/webhook"
    assert (await request(http, "POST", url, data=raw, headers=signed_headers(raw)))[0] == 200
    assert stored(journal) == [(message_id, "pending")]  # before the 200: durable
    await wait_until(lambda: fake_graph.read_receipts == [message_id])
    # Meta redelivers: stored once.
    assert (await request(http, "POST", url, data=raw, headers=signed_headers(raw)))[0] == 200
    assert stored(journal) == [(message_id, "pending")]
    # Rasa's side of the same journal runs it.
    turns: list[str] = []

    async def handler(message: Any) -> None:
        turns.append(message.message_id)

    rasa = SqliteInboundQueue(handler, Apologies(), path=str(journal), watch_seconds=0.01)
    try:
        await rasa.start()
        await wait_until(lambda: stored(journal) == [(message_id, "done")])
    finally:
        await rasa.close(timeout=1)
    assert turns == [message_id]


async def test_statuses_are_counted_and_never_stored(
    journal: Path, http: aiohttp.ClientSession, fake_graph: FakeGraph
) -> None:
    import json

    app = gateway_app(journal, fake_graph.base_url)
    raw = json.dumps(load_fixture("status_delivered")).encode()
    async with serve_sanic(app) as base:
        url = base + f"{BASE_PATH}/webhook"
        assert (await request(http, "POST", url, data=raw, headers=signed_headers(raw)))[0] == 200
    assert not journal.exists() or stored(journal) == []


async def test_an_oversized_body_is_refused_before_it_is_read(
    journal: Path, http: aiohttp.ClientSession
) -> None:
    async with serve_sanic(gateway_app(journal, max_body_bytes=1024)) as base:
        raw = b"{" + b" " * 4096 + b"}"
        url = base + f"{BASE_PATH}/webhook"
        status, _ = await request(http, "POST", url, data=raw, headers=signed_headers(raw))
    assert status == 413


async def test_unreachable_storage_answers_503_so_meta_redelivers(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    import json

    app = gateway_app(tmp_path / "j.db", queue_redis_url="redis://127.0.0.1:1/0")
    raw = json.dumps(text_message_body("6281200000001", wamid(), "halo")).encode()
    async with serve_sanic(app) as base:
        url = base + f"{BASE_PATH}/webhook"
        status, _ = await request(http, "POST", url, data=raw, headers=signed_headers(raw))
    assert status == 503


def test_reads_the_channel_section_of_credentials_yml(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text(
        "rest:\nconnectors.whatsapp_connector.WhatsAppInput:\n  queue_partitions: 8\n"
    )
    assert channel_credentials(credentials) == {"queue_partitions": 8}
    assert channel_credentials(tmp_path / "missing.yml") == {}
