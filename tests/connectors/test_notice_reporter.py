"""The channel tells the backend what WhatsApp said about the program's notices: the
wamid of a sent notice, Meta's error code of a refused one, and the status webhooks
(batched). Ordinary messages are not reported. The backend here is a real HTTP server
on a free port that records what it receives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from connectors.graph_client import graph_client_for
from connectors.notice_reporter import NoticeReporter, notification_ids
from connectors.status_recorder import StatusRecorder
from connectors.whatsapp_connector import WhatsAppOutput
from connectors.whatsapp_payloads import ErrorDetail, StatusUpdate
from tests.connectors.wa_helpers import FakeGraph, make_config, wait_until

TOKEN = "test-report-token"
NOTICE = {"text": "✅ Klaim CLM-000001 disetujui: +200 poin.",
          "custom": {"notification": {"ids": [7, 8], "delivery": "session"}}}


@dataclass
class FakeBackend:
    received: list[tuple[str, str, Any]] = field(default_factory=list)
    status: int = 200
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            (request.path, request.headers.get("Authorization", ""), await request.json())
        )
        return web.json_response({"matched": 0}, status=self.status)


@pytest.fixture
async def backend() -> AsyncIterator[FakeBackend]:
    fake = FakeBackend()
    app = web.Application()
    app.router.add_post("/api/v1/notifications/{what}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield fake
    finally:
        await runner.cleanup()


def output(graph: FakeGraph, reporter: NoticeReporter) -> WhatsAppOutput:
    client = graph_client_for(make_config(graph.base_url))
    return WhatsAppOutput(client, StatusRecorder(reporter=None), reporter=reporter)


def test_only_notices_carry_ids() -> None:
    assert notification_ids(NOTICE) == [7, 8]
    assert notification_ids({"text": "Poin Anda 1.250"}) == []
    assert notification_ids({"custom": {"whatsapp_template": {"name": "x"}}}) == []


async def test_a_sent_notice_is_reported_with_its_wamid(
    fake_graph: FakeGraph, backend: FakeBackend
) -> None:
    reporter = NoticeReporter(backend.url, TOKEN)
    channel = output(fake_graph, reporter)
    await channel.send_response("6281200000001", NOTICE)
    await channel.send_response("6281200000001", {"text": "Poin Anda 1.250"})
    assert len(fake_graph.messages) == 2
    [(path, authorization, body)] = backend.received  # the ordinary message: no report
    assert path == "/api/v1/notifications/sends" and authorization == f"Bearer {TOKEN}"
    assert body["ids"] == [7, 8] and body["ok"] is True
    assert body["delivery"] == "session"  # how the bot sent it, from the notice's marker
    assert body["wamid"] and body["wamid"].startswith("wamid.")


async def test_a_template_reports_the_group_s_other_notices_as_later(
    fake_graph: FakeGraph, backend: FakeBackend
) -> None:
    channel = output(fake_graph, NoticeReporter(backend.url, TOKEN))
    await channel.send_response("6281200000001", {"custom": {
        "whatsapp_template": {"name": "mitra_claim_approved", "language": "id",
                              "parameters": ["CLM-000123", "1.250"]},
        "notification": {"ids": [7], "delivery": "template", "later": [8, 9]},
    }})  # fmt: skip
    [(_, _, body)] = backend.received
    assert body["ids"] == [7] and body["ok"] is True
    assert (body["delivery"], body["later"]) == ("template", [8, 9])
    assert fake_graph.messages[-1]["type"] == "template"


async def test_a_refused_notice_is_reported_with_meta_s_code(
    fake_graph: FakeGraph, backend: FakeBackend
) -> None:
    fake_graph.fail_next(400, code=131047)  # more than 24 hours since the partner wrote
    channel = output(fake_graph, NoticeReporter(backend.url, TOKEN))
    await channel.send_response("6281200000001", NOTICE)
    [(_, _, body)] = backend.received
    assert body == {"ids": [7, 8], "ok": False, "wamid": None, "error_code": 131047,
                    "error": body["error"], "delivery": "session"}
    assert body["error"]


async def test_statuses_are_forwarded_in_batches(backend: FakeBackend) -> None:
    recorder = StatusRecorder(reporter=NoticeReporter(backend.url, TOKEN))
    for status in ("sent", "delivered", "read"):
        recorder.record(StatusUpdate(message_id="wamid.A", status=status,
                                     recipient_id="6281200000001", timestamp=1700000000))
    recorder.record(StatusUpdate(
        message_id="wamid.B", status="failed", recipient_id="6281200000002",
        timestamp=1700000001, errors=(ErrorDetail(code=131026, title="Undeliverable"),),
    ))
    await wait_until(lambda: len(backend.received) >= 1)
    [(path, _, body)] = backend.received
    assert path == "/api/v1/notifications/statuses"
    assert [(s["wamid"], s["status"]) for s in body["statuses"]] == [
        ("wamid.A", "sent"), ("wamid.A", "delivered"), ("wamid.A", "read"),
        ("wamid.B", "failed")]
    assert body["statuses"][-1]["error_code"] == 131026


async def test_without_a_token_nothing_is_reported(
    fake_graph: FakeGraph, backend: FakeBackend
) -> None:
    channel = output(fake_graph, NoticeReporter(backend.url, None))
    await channel.send_response("6281200000001", NOTICE)
    # The notice went out; its report would have been posted before send_response returned.
    assert len(fake_graph.messages) == 1 and backend.received == []
    reporter = NoticeReporter(backend.url, None)
    StatusRecorder(reporter=reporter).record(
        StatusUpdate(message_id="wamid.C", status="sent", recipient_id="6281200000001"))
    assert reporter.pending_statuses == 0  # nothing queued, so no batch will ever go


async def test_a_backend_that_refuses_is_not_retried_forever(
    fake_graph: FakeGraph, backend: FakeBackend
) -> None:
    backend.status = 403
    channel = output(fake_graph, NoticeReporter(backend.url, TOKEN))
    await channel.send_response("6281200000001", NOTICE)
    assert len(backend.received) == 1  # a 4xx is final: logged, not retried
    assert len(fake_graph.messages) == 1
