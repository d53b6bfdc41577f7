"""Fixtures for the WhatsApp connector tests (helpers live in wa_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from tests.connectors.wa_helpers import FakeGraph


@pytest.fixture
async def fake_graph() -> AsyncIterator[FakeGraph]:
    graph = FakeGraph()
    app = web.Application()
    app.router.add_post("/{version}/{phone_number_id}/messages", graph.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    graph.base_url = f"http://127.0.0.1:{port}"
    try:
        yield graph
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(autouse=True)
async def _close_shared_session() -> AsyncIterator[None]:
    """The process-wide Graph session is bound to one loop; close it after each test."""
    yield
    from connectors.graph_client import shared_session

    await shared_session.close()
