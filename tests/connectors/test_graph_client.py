"""Outbound Graph API calls against a small local aiohttp server that can fail."""

from __future__ import annotations

import random

import structlog

from connectors.graph_client import (
    GraphClient,
    GraphConfig,
    RetryPolicy,
    SharedSession,
    shared_session,
)
from connectors.masking import mask_id
from connectors.status_recorder import StatusRecorder
from connectors.whatsapp_connector import WhatsAppInput, WhatsAppOutput
from connectors.whatsapp_render import render_response
from tests.connectors.wa_helpers import PHONE_NUMBER_ID, FakeGraph, make_config

TO = "6281200000001"
FAST = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.01)


def client_for(graph: FakeGraph, retry: RetryPolicy = FAST, timeout: float = 2.0) -> GraphClient:
    config = GraphConfig(
        access_token="tok",
        phone_number_id=PHONE_NUMBER_ID,
        base_url=graph.base_url,
        api_version="v21.0",
        timeout_seconds=timeout,
    )
    return GraphClient(config, retry=retry)


def text_payload(body: str = "Halo") -> dict:
    (payload,) = render_response(TO, {"text": body})
    return payload


async def test_success_returns_wamid(fake_graph: FakeGraph) -> None:
    result = await client_for(fake_graph).send(text_payload())
    assert result.ok and result.message_id == "wamid.FAKE0001"
    assert result.attempts == 1
    assert fake_graph.requests[0]["authorization"] == "Bearer tok"
    assert fake_graph.requests[0]["path"] == f"/v21.0/{PHONE_NUMBER_ID}/messages"


async def test_retries_429_then_succeeds(fake_graph: FakeGraph) -> None:
    fake_graph.fail_next(429, count=3, code=130429)
    result = await client_for(fake_graph).send(text_payload())
    assert result.ok
    assert result.attempts == 4
    assert fake_graph.attempts == 4
    assert len(fake_graph.messages) == 1


async def test_retries_500_then_succeeds(fake_graph: FakeGraph) -> None:
    fake_graph.fail_next(500, count=2)
    result = await client_for(fake_graph).send(text_payload())
    assert result.ok and result.attempts == 3


async def test_throttling_code_on_a_400_is_retried(fake_graph: FakeGraph) -> None:
    fake_graph.fail_next(400, count=1, code=131056)  # pair rate limit
    result = await client_for(fake_graph).send(text_payload())
    assert result.ok and result.attempts == 2


async def test_gives_up_after_bounded_attempts(fake_graph: FakeGraph) -> None:
    fake_graph.fail_next(503, count=10)
    result = await client_for(fake_graph).send(text_payload())
    assert not result.ok and result.retryable
    assert result.attempts == 5
    assert fake_graph.attempts == 5


async def test_permanent_131047_is_not_retried(fake_graph: FakeGraph) -> None:
    fake_graph.fail_next(400, count=3, code=131047)
    with structlog.testing.capture_logs() as logs:
        result = await client_for(fake_graph).send(text_payload())
    assert not result.ok and not result.retryable
    assert result.error_code == 131047
    assert fake_graph.attempts == 1
    assert "24 hours" in result.reason
    (event,) = [e for e in logs if e["event"] == "whatsapp.send.permanent_error"]
    assert event["error_code"] == 131047
    assert event["recipient"] == mask_id(TO) == "6281****0001"
    assert TO not in repr(logs)


async def test_permanent_131026_is_not_retried(fake_graph: FakeGraph) -> None:
    fake_graph.fail_next(400, count=3, code=131026)
    result = await client_for(fake_graph).send(text_payload())
    assert result.error_code == 131026 and fake_graph.attempts == 1
    assert "undeliverable" in result.reason


async def test_timeout_is_retried(fake_graph: FakeGraph) -> None:
    fake_graph.delays.append(0.5)
    result = await client_for(fake_graph, timeout=0.1).send(text_payload())
    assert result.ok and result.attempts == 2


async def test_connection_errors_are_retried_and_bounded() -> None:
    config = GraphConfig(access_token="t", phone_number_id="1", base_url="http://127.0.0.1:9")
    slept: list[float] = []

    async def no_sleep(delay: float) -> None:
        slept.append(delay)

    result = await GraphClient(config, retry=FAST, sleep=no_sleep).send(text_payload())
    assert not result.ok and result.retryable and result.attempts == 5
    assert len(slept) == 4


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.2, max_delay=5.0)
    rng = random.Random(7)
    for retry_number, ceiling in enumerate([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]):
        delays = [policy.delay(retry_number, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # full jitter spreads over the whole range


async def test_payloads_of_a_response_are_sent_in_order(fake_graph: FakeGraph) -> None:
    output = WhatsAppOutput(client_for(fake_graph), StatusRecorder())
    long_text = "\n\n".join(f"Paragraf {i}. " + "isi " * 300 for i in range(4))  # > 4096
    fake_graph.fail_next(500, count=1)  # a retry must not reorder anything
    results = await output.deliver(
        TO,
        {
            "text": long_text,
            "buttons": [{"title": "OK", "payload": "/affirm"}],
            "image": "https://cdn.example.com/banner.jpg",
        },
    )
    assert all(r.ok for r in results)
    # 4 paragraphs of ~1.2k chars: one 4096-chunk, then the last paragraph split so
    # that the interactive body stays within 1024 characters.
    kinds = [m["type"] for m in fake_graph.messages]
    assert kinds == ["text", "text", "interactive", "image"]
    sent_text = " ".join(
        m["text"]["body"] if m["type"] == "text" else m["interactive"]["body"]["text"]
        for m in fake_graph.messages[:3]
    )
    assert sent_text.split() == long_text.split()
    assert [r.message_id for r in results] == [f"wamid.FAKE000{i}" for i in range(1, 5)]


async def test_rest_of_a_response_stops_after_a_permanent_error(fake_graph: FakeGraph) -> None:
    recorder = StatusRecorder()
    output = WhatsAppOutput(client_for(fake_graph), recorder)
    fake_graph.fail_next(400, count=1, code=131047)
    results = await output.deliver(TO, {"text": "a", "image": "https://x.test/b.jpg"})
    assert len(results) == 1 and not results[0].ok
    assert fake_graph.messages == []
    assert recorder.counts["send_failed"] == 1
    assert recorder.failures_for(TO)[0].errors[0].code == 131047


async def test_output_channel_methods(fake_graph: FakeGraph) -> None:
    channel = WhatsAppInput(make_config(fake_graph.base_url))
    output = channel.get_output_channel()
    assert isinstance(output, WhatsAppOutput) and output.name() == "whatsapp"
    await output.send_text_message(TO, "Halo")
    await output.send_text_with_buttons(TO, "Pilih", [{"title": "A", "payload": "/a"}] * 4)
    await output.send_image_url(TO, "https://x.test/a.png")
    await output.send_attachment(TO, "https://x.test/katalog.pdf")
    await output.send_custom_json(
        TO, {"whatsapp_template": {"name": "points_expiring", "language": "id"}}
    )
    # Rasa's default send_response path (pops keys, passes the rest as kwargs)
    await output.send_response(TO, {"text": "Akhir", "buttons": None, "custom": None})
    kinds = [(m["type"], m.get("interactive", {}).get("type")) for m in fake_graph.messages]
    assert kinds == [
        ("text", None),
        ("interactive", "list"),
        ("image", None),
        ("document", None),
        ("template", None),
        ("text", None),
    ]


async def test_one_shared_session_per_process_and_loop(fake_graph: FakeGraph) -> None:
    first = await shared_session.get()
    assert await shared_session.get() is first
    await client_for(fake_graph).send(text_payload())
    assert await shared_session.get() is first
    other = WhatsAppInput(make_config(fake_graph.base_url))
    await other.get_output_channel().send_text_message(TO, "x")
    assert await shared_session.get() is first
    await shared_session.close()
    assert first.closed


async def test_private_session_can_be_closed() -> None:
    session = SharedSession()
    s = await session.get()
    await session.close()
    assert s.closed


def test_mask_id() -> None:
    assert mask_id("6281200000001") == "6281****0001"
    assert mask_id("ID.13491208655302741918") == "ID.1****1918"
    assert mask_id("12345") == "1****5"
    assert mask_id(None) == "-"
