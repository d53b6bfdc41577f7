"""The webhook end to end, in a real Sanic app: acknowledge fast, process in the
background, once per message id, in order per sender, concurrently across senders."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from connectors.status_recorder import StatusRecorder
from connectors.whatsapp_connector import WhatsAppInput, WhatsAppOutput
from tests.connectors.wa_helpers import (
    PHONE_NUMBER_ID,
    FakeGraph,
    TurnRecorder,
    load_fixture,
    make_config,
    serve_channel,
    signed_headers,
    text_message_body,
    wait_until,
)

REDIS_URL = "redis://127.0.0.1:6379/15"


async def post(http: aiohttp.ClientSession, url: str, body: Any) -> int:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=raw, headers=signed_headers(raw)) as resp:
        await resp.read()
        return resp.status


def wamid() -> str:
    return f"wamid.TEST{uuid.uuid4().hex}"


def make_channel(graph: FakeGraph | None = None, **overrides: Any) -> WhatsAppInput:
    if graph is None:
        overrides.setdefault("mark_as_read", False)
    config = make_config(graph.base_url if graph else "http://127.0.0.1:9", **overrides)
    return WhatsAppInput(config, status_recorder=StatusRecorder())


async def test_redelivered_message_is_handled_once(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder(delay=0.01)
    body = text_message_body("6281200000001", wamid(), "Halo")
    async with serve_channel(make_channel(), recorder) as url:
        statuses = [await post(http, url, body) for _ in range(3)]
        statuses += await asyncio.gather(post(http, url, body), post(http, url, body))
        assert statuses == [200] * 5
        await wait_until(lambda: len(recorder.turns) == 1)
        await asyncio.sleep(0.1)
    assert len(recorder.turns) == 1
    assert len(recorder.started) == 1


async def test_one_sender_is_handled_in_order(http: aiohttp.ClientSession) -> None:
    # Earlier messages are slower, so any reordering or overlap would show.
    recorder = TurnRecorder(delays={f"pesan {i}": 0.03 - i * 0.003 for i in range(10)})
    sender = "6281200000001"
    async with serve_channel(make_channel(), recorder) as url:
        for i in range(10):
            body = text_message_body(sender, wamid(), f"pesan {i}", timestamp=1732500000 + i)
            assert await post(http, url, body) == 200
        await wait_until(lambda: len(recorder.turns) == 10)
    assert recorder.texts_for(sender) == [f"pesan {i}" for i in range(10)]
    assert recorder.max_active_per_sender == 1


async def test_batched_messages_of_one_sender_keep_payload_order(
    http: aiohttp.ClientSession,
) -> None:
    recorder = TurnRecorder(delay=0.005)
    async with serve_channel(make_channel(), recorder) as url:
        assert await post(http, url, load_fixture("batched")) == 200
        await wait_until(lambda: len(recorder.turns) == 5)
    assert recorder.texts_for("6281200000001") == ["Saldo", "Terima kasih"]
    assert recorder.texts_for("6281200000002") == ["Hi, my points?"]
    assert recorder.texts_for("6281200000003") == [
        '/share_media{"media_id": "6234567890123456", "media_type": "image"}',
        "Ini fotonya",
    ]


async def test_many_senders_are_handled_concurrently(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder(delay=0.1)
    senders = [f"62812{i:08d}" for i in range(50)]
    async with serve_channel(make_channel(), recorder) as url:
        started = time.monotonic()
        statuses = await asyncio.gather(
            *(post(http, url, text_message_body(s, wamid(), f"halo dari {s}")) for s in senders)
        )
        assert statuses == [200] * 50
        await wait_until(lambda: len(recorder.turns) == 50)
        elapsed = time.monotonic() - started
    assert {m.sender_id for m in recorder.turns} == set(senders)
    assert recorder.max_active > 10, recorder.max_active
    assert elapsed < 50 * 0.1 / 4, elapsed  # far below one-at-a-time (5 s)


async def test_acknowledged_before_a_slow_turn(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder(delay=1.0)
    async with serve_channel(make_channel(), recorder) as url:
        started = time.monotonic()
        assert await post(http, url, text_message_body("6281200000002", wamid(), "Hi")) == 200
        assert time.monotonic() - started < 0.3
        assert recorder.turns == []
        await wait_until(lambda: len(recorder.started) == 1)
        await wait_until(lambda: len(recorder.turns) == 1, timeout=3)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"\xff\xfe\x00", b"[]", b"null", b'{"object": "page", "entry": []}'],
    ids=["broken", "empty", "binary", "array", "null", "other-object"],
)
async def test_malformed_bodies_are_acknowledged_and_not_handled(
    http: aiohttp.ClientSession, raw: bytes
) -> None:
    recorder = TurnRecorder()
    async with serve_channel(make_channel(), recorder) as url:
        assert await post(http, url, raw) == 200
        # The server still works afterwards.
        assert await post(http, url, text_message_body("6281200000001", wamid(), "x")) == 200
        await wait_until(lambda: len(recorder.turns) == 1)
    assert [m.text for m in recorder.turns] == ["x"]


async def test_malformed_shapes_and_unknown_fields_are_acknowledged(
    http: aiohttp.ClientSession,
) -> None:
    recorder = TurnRecorder()
    malformed = load_fixture("malformed")
    async with serve_channel(make_channel(), recorder) as url:
        for case in malformed.values():
            assert await post(http, url, case) == 200
        await asyncio.sleep(0.05)
    assert recorder.started == []


async def test_statuses_are_recorded_not_turned(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder()
    channel = make_channel()
    async with serve_channel(channel, recorder) as url:
        for name in ("status_sent", "status_delivered", "status_read", "status_failed_131047"):
            assert await post(http, url, load_fixture(name)) == 200
        await asyncio.sleep(0.05)
    assert recorder.started == []
    counts = channel.status_recorder.snapshot()["counts"]
    assert counts == {"sent": 1, "delivered": 1, "read": 1, "failed": 1}
    (failure,) = channel.status_recorder.failures
    assert failure.errors[0].code == 131047
    assert channel.status_recorder.failures_for("6281200000003") == [failure]


async def test_turn_metadata_and_text_reach_rasa(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder()
    async with serve_channel(make_channel(), recorder) as url:
        assert await post(http, url, load_fixture("image")) == 200
        assert await post(http, url, load_fixture("text_slash")) == 200
        await wait_until(lambda: len(recorder.turns) == 2)
    image, text = recorder.turns
    assert image.input_channel == "whatsapp"
    assert image.sender_id == "6281200000001"
    assert image.text == '/share_media{"media_id": "1234567890123456", "media_type": "image"}'
    meta = image.metadata["whatsapp"]
    assert meta["profile_name"] == "Budi Santoso"
    assert meta["media"]["caption"] == "Invoice INV-2024-0012"
    assert meta["phone_number_id"] == PHONE_NUMBER_ID
    assert image.message_id == meta["message_id"]
    assert isinstance(image.output_channel, WhatsAppOutput)
    assert not text.text.startswith("/")


async def test_a_failing_turn_does_not_block_the_sender(http: aiohttp.ClientSession) -> None:
    seen: list[str] = []

    async def on_new_message(message: Any) -> None:
        seen.append(message.text)
        if message.text == "boom":
            raise RuntimeError("turn failed")

    async with serve_channel(make_channel(), on_new_message) as url:
        for text in ("satu", "boom", "tiga"):
            assert await post(http, url, text_message_body("6281200000001", wamid(), text)) == 200
        await wait_until(lambda: len(seen) == 3)
    assert seen == ["satu", "boom", "tiga"]


async def test_other_business_number_is_ignored(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder()
    body = text_message_body("6281200000001", wamid(), "Halo")
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    async with serve_channel(make_channel(), recorder) as url:
        assert await post(http, url, body) == 200
        await asyncio.sleep(0.05)
    assert recorder.started == []


async def test_full_queue_answers_503_and_redelivery_is_processed(
    http: aiohttp.ClientSession,
) -> None:
    recorder = TurnRecorder(delay=0.2)
    channel = make_channel(max_pending=1)
    first = text_message_body("6281200000001", wamid(), "pertama")
    second = text_message_body("6281200000002", wamid(), "kedua")
    async with serve_channel(channel, recorder) as url:
        assert await post(http, url, first) == 200
        assert await post(http, url, second) == 503  # Meta will redeliver it
        await wait_until(lambda: len(recorder.turns) == 1)
        assert await post(http, url, second) == 200
        await wait_until(lambda: len(recorder.turns) == 2)
    assert [m.text for m in recorder.turns] == ["pertama", "kedua"]


async def test_mark_as_read_and_reply_through_graph(
    http: aiohttp.ClientSession, fake_graph: FakeGraph
) -> None:
    async def on_new_message(message: Any) -> None:
        await message.output_channel.send_response(
            message.sender_id,
            {"text": "Poin Anda 1.250", "buttons": [{"title": "Tukar", "payload": "/redeem"}]},
        )

    message_id = wamid()
    channel = make_channel(fake_graph)
    async with serve_channel(channel, on_new_message) as url:
        assert await post(http, url, text_message_body("6281200000001", message_id, "poin")) == 200
        await wait_until(lambda: len(fake_graph.messages) == 1 and fake_graph.read_receipts)
    assert fake_graph.read_receipts == [message_id]
    (sent,) = fake_graph.messages
    assert sent["to"] == "6281200000001"
    assert sent["interactive"]["action"]["buttons"][0]["reply"]["id"] == "/redeem"
    assert fake_graph.requests[0]["authorization"] == "Bearer test-access-token"
    assert fake_graph.requests[0]["path"] == f"/v21.0/{PHONE_NUMBER_ID}/messages"


async def test_user_id_sender_end_to_end(
    http: aiohttp.ClientSession, fake_graph: FakeGraph
) -> None:
    async def on_new_message(message: Any) -> None:
        await message.output_channel.send_text_message(message.sender_id, "Selamat datang")

    async with serve_channel(make_channel(fake_graph), on_new_message) as url:
        assert await post(http, url, load_fixture("user_id_only")) == 200
        await wait_until(lambda: len(fake_graph.messages) == 1)
    (sent,) = fake_graph.messages
    assert sent["recipient"] == "ID.13491208655302741918"
    assert "to" not in sent


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"mitra:test:{uuid.uuid4().hex}:"
    client = aioredis.from_url(REDIS_URL)
    await client.ping()  # Redis must be running: this test fails, never skips, without it
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.close()


async def test_redis_dedup_across_two_instances(
    http: aiohttp.ClientSession, redis_prefix: str
) -> None:
    recorder_a, recorder_b = TurnRecorder(delay=0.01), TurnRecorder(delay=0.01)
    settings = {"dedup_redis_url": REDIS_URL, "dedup_key_prefix": redis_prefix}
    ids = [wamid() for _ in range(10)]
    async with (
        serve_channel(make_channel(**settings), recorder_a) as url_a,
        serve_channel(make_channel(**settings), recorder_b) as url_b,
    ):
        posts = []
        for i, message_id in enumerate(ids):
            body = text_message_body(f"6281200000{i:03d}", message_id, f"pesan {i}")
            # Meta redelivers: each message reaches both instances, twice each.
            posts += [post(http, url, body) for url in (url_a, url_b, url_a, url_b)]
        assert set(await asyncio.gather(*posts)) == {200}
        await wait_until(lambda: len(recorder_a.turns) + len(recorder_b.turns) == 10)
        await asyncio.sleep(0.1)
    handled = [m.message_id for m in recorder_a.turns + recorder_b.turns]
    assert sorted(handled) == sorted(ids)

    client = aioredis.from_url(REDIS_URL)
    try:
        keys = {key.decode() async for key in client.scan_iter(match=redis_prefix + "*")}
        ttl = await client.ttl(redis_prefix + ids[0])
    finally:
        await client.close()
    assert keys == {redis_prefix + message_id for message_id in ids}
    assert 0 < ttl <= 7 * 24 * 3600


async def test_mounted_by_rasa_at_webhooks_whatsapp_webhook(http: aiohttp.ClientSession) -> None:
    """Rasa's own `register` mounts the channel: the URL and the agent hand-off match."""
    from types import SimpleNamespace

    from rasa.core.channels.channel import register

    from tests.connectors.wa_helpers import new_sanic_app, serve_sanic

    recorder = TurnRecorder()
    channel = make_channel()
    app = new_sanic_app()
    app.ctx.agent = SimpleNamespace(handle_message=recorder)
    register([channel], app, route="/webhooks/")
    assert app.ctx.input_channels == [channel]
    async with serve_sanic(app) as base_url:
        body = text_message_body("6281200000001", wamid(), "Halo")
        assert await post(http, base_url + "/webhooks/whatsapp/webhook", body) == 200
        await wait_until(lambda: len(recorder.turns) == 1)
    assert recorder.turns[0].input_channel == "whatsapp"


@pytest.mark.parametrize("turns_in_thread", [True, False])
async def test_turns_that_hog_the_cpu_do_not_delay_acknowledgements(
    http: aiohttp.ClientSession, turns_in_thread: bool
) -> None:
    """NLU and policies run synchronously inside a turn; on their own loop (the default)
    they cannot hold up the 200 OK. On the server loop (the contrast) they do."""
    threads: set[str] = set()

    async def busy_turn(message: Any) -> None:
        threads.add(threading.current_thread().name)
        time.sleep(0.3)  # a synchronous stretch, like DIET inference or a SQLite write

    channel = make_channel(turns_in_thread=turns_in_thread)
    async with serve_channel(channel, busy_turn) as url:
        await post(http, url, text_message_body("6281200000010", wamid(), "halo"))
        await asyncio.sleep(0.05)  # the first turn is now blocking its loop
        acks = []
        for n in range(5):
            started = time.monotonic()
            body = text_message_body(f"62812000000{20 + n}", wamid(), "cek poin")
            assert await post(http, url, body) == 200
            acks.append(time.monotonic() - started)
    if turns_in_thread:
        assert max(acks) < 0.1, acks
        assert threads == {"whatsapp-turns"}
    else:
        assert max(acks) >= 0.25, acks
        assert threads == {threading.main_thread().name}
