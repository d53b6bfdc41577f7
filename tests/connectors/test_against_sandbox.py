"""The connector's outbound side against the project's WhatsApp sandbox (Meta's paths,
limits and error bodies), with faults injected through ``POST /sandbox/faults``."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from connectors.graph_client import GraphClient, GraphConfig, RetryPolicy
from connectors.whatsapp_connector import WhatsAppOutput
from sandbox.app import create_app
from sandbox.settings import Settings

TOKEN = "sandbox-token"
PHONE_ID = "100000000000001"
TO = "6281200000001"
FAST = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.01)


@pytest.fixture
async def sandbox_url() -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        access_token=TOKEN, phone_number_id=PHONE_ID, public_url=base,
        webhook_url="http://127.0.0.1:9/unused", statuses=False,
    )
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    yield base
    await runner.cleanup()


def output_for(base: str) -> WhatsAppOutput:
    config = GraphConfig(
        access_token=TOKEN, phone_number_id=PHONE_ID, base_url=base, api_version="v21.0"
    )
    return WhatsAppOutput(GraphClient(config, retry=FAST))


async def sent(base: str) -> list[dict]:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{base}/sandbox/messages", params={"to": TO}) as response:
            return [record["payload"] for record in (await response.json())["messages"]]


async def inject(base: str, fault: dict) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{base}/sandbox/faults", json=fault) as response:
            assert response.status == 201


async def test_429_three_times_then_delivered_once(sandbox_url: str) -> None:
    await inject(sandbox_url, {"status": 429, "count": 3})
    (result,) = await output_for(sandbox_url).deliver(TO, {"text": "Halo"})
    assert result.ok and result.attempts == 4
    assert [p["text"]["body"] for p in await sent(sandbox_url)] == ["Halo"]


async def test_5xx_is_retried(sandbox_url: str) -> None:
    await inject(sandbox_url, {"status": 503, "count": 2})
    (result,) = await output_for(sandbox_url).deliver(TO, {"text": "Halo"})
    assert result.ok and result.attempts == 3


async def test_outside_the_24h_window_is_not_retried(sandbox_url: str) -> None:
    await inject(sandbox_url, {"status": 400, "code": 131047, "count": 1})
    (result,) = await output_for(sandbox_url).deliver(TO, {"text": "Halo"})
    assert not result.ok and result.attempts == 1 and result.error_code == 131047
    assert await sent(sandbox_url) == []


async def test_everything_rendered_passes_metas_limits(sandbox_url: str) -> None:
    """Long text, long button titles, 6 and 14 choices: the sandbox enforces Meta's
    limits (400 on violation), so every payload being accepted proves the rendering."""
    long_text = ("Poin Anda bertambah. " * 300).strip()
    buttons = lambda n: [  # noqa: E731
        {"title": f"Pilihan nomor {i} yang sangat panjang sekali", "payload": f"/menu{i}"}
        for i in range(n)
    ]
    output = output_for(sandbox_url)
    results = []
    results += await output.deliver(TO, {"text": long_text})
    results += await output.deliver(TO, {"text": "Pilih:", "buttons": buttons(3)})
    results += await output.deliver(TO, {"text": "Pilih:", "buttons": buttons(6)})
    results += await output.deliver(TO, {"text": "Pilih:", "buttons": buttons(14)})
    assert all(r.ok for r in results), [r.reason for r in results if not r.ok]

    payloads = await sent(sandbox_url)
    texts = [p["text"]["body"] for p in payloads if p["type"] == "text"]
    assert len(texts) >= 2 and all(len(t) <= 4096 for t in texts)
    assert " ".join(texts).split() == long_text.split()  # nothing lost in the split
    kinds = [p["interactive"]["type"] for p in payloads if p["type"] == "interactive"]
    assert kinds == ["button", "list", "list"]
    rows = [row for s in payloads[-1]["interactive"]["action"]["sections"] for row in s["rows"]]
    assert len(rows) == 10  # nine choices and a "more" row
