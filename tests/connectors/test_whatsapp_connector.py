"""The webhook end to end, in a real Sanic app: refuse oversized bodies unread,
acknowledge fast, store durably, process in the background once per message id, in
order per sender, concurrently across senders; retry failed turns and apologise."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from connectors.apology import APOLOGY
from connectors.status_recorder import StatusRecorder
from connectors.whatsapp_connector import WhatsAppInput, WhatsAppOutput
from tests.connectors.wa_helpers import (
    PHONE_NUMBER_ID,
    FakeGraph,
    TurnRecorder,
    load_fixture,
    make_config,
    post,
    serve_channel,
    text_message_body,
    wait_until,
    wamid,
)

REDIS_URL = "redis://127.0.0.1:6379/15"
BUDI = "6281200000001"


def make_channel(graph: FakeGraph | None = None, **overrides: Any) -> WhatsAppInput:
    if graph is None:
        overrides.setdefault("mark_as_read", False)
    config = make_config(graph.base_url if graph else "http://127.0.0.1:9", **overrides)
    return WhatsAppInput(config, status_recorder=StatusRecorder())


async def settled(http: aiohttp.ClientSession, url: str, recorder: TurnRecorder) -> None:
    """Proves that nothing posted before is still on its way: a later message of the same
    sender is handled after everything queued before it (order per sender)."""
    marker = f"marker {uuid.uuid4().hex[:8]}"
    assert await post(http, url, text_message_body(BUDI, wamid(), marker)) == 200
    await wait_until(lambda: marker in recorder.texts_for(BUDI))


async def test_redelivered_message_is_handled_once(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder(delay=0.01)
    body = text_message_body(BUDI, wamid(), "Halo")
    async with serve_channel(make_channel(), recorder) as url:
        statuses = [await post(http, url, body) for _ in range(3)]
        statuses += await asyncio.gather(post(http, url, body), post(http, url, body))
        assert statuses == [200] * 5
        await settled(http, url, recorder)
    assert [m.text for m in recorder.started] == ["Halo", recorder.turns[-1].text]


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
        await settled(http, url, recorder)
    assert len(recorder.started) == 1  # the marker only


async def test_statuses_are_recorded_not_turned(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder()
    channel = make_channel()
    async with serve_channel(channel, recorder) as url:
        for name in ("status_sent", "status_delivered", "status_read", "status_failed_131047"):
            assert await post(http, url, load_fixture(name)) == 200
        await settled(http, url, recorder)
    assert len(recorder.started) == 1  # the marker only
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
    assert image.text == (
        '/share_media{"media_id": "1234567890123456", "media_type": "image", '
        '"caption": "Invoice INV-2024-0012"}'
    )
    meta = image.metadata["whatsapp"]
    assert meta["profile_name"] == "Budi Santoso"
    assert meta["media"]["caption"] == "Invoice INV-2024-0012"
    assert meta["phone_number_id"] == PHONE_NUMBER_ID
    assert image.message_id == meta["message_id"]
    assert isinstance(image.output_channel, WhatsAppOutput)
    assert not text.text.startswith("/")


async def test_a_failing_turn_is_retried_then_apologised_for_and_the_sender_goes_on(
    http: aiohttp.ClientSession, fake_graph: FakeGraph
) -> None:
    seen: list[str] = []

    async def on_new_message(message: Any) -> None:
        seen.append(message.text)
        if message.text == "boom" and seen.count("boom") <= 3:
            raise RuntimeError("turn failed")
        await message.output_channel.send_text_message(message.sender_id, f"re: {message.text}")

    boom = text_message_body(BUDI, wamid(), "boom")
    channel = make_channel(fake_graph, mark_as_read=False, turn_attempts=3)
    async with serve_channel(channel, on_new_message) as url:
        for body in (text_message_body(BUDI, wamid(), "satu"), boom):
            assert await post(http, url, body) == 200
        assert await post(http, url, text_message_body(BUDI, wamid(), "tiga")) == 200
        await wait_until(lambda: len(fake_graph.messages) == 3)
        assert seen == ["satu", "boom", "boom", "boom", "tiga"]
        texts = [m["text"]["body"] for m in fake_graph.messages]
        assert texts == ["re: satu", APOLOGY["id"], "re: tiga"]
        # Never handled: Meta's redelivery (had our 200 been lost) is tried again.
        assert await post(http, url, boom) == 200
        await wait_until(lambda: len(fake_graph.messages) == 4)
    assert fake_graph.messages[-1]["text"]["body"] == "re: boom"


class FakeTracker:
    def __init__(self, language: str | None) -> None:
        self.language = language

    def get_slot(self, name: str) -> Any:
        return self.language if name == "language" else None


class FakeTrackerStore:
    def __init__(self, languages: dict[str, str]) -> None:
        self.languages = languages

    async def retrieve(self, sender_id: str) -> FakeTracker | None:
        if sender_id not in self.languages:
            return None
        return FakeTracker(self.languages[sender_id])


async def serve_with_agent(channel: WhatsAppInput, agent: Any) -> Any:
    """Mount the channel the way Rasa does (``register``), with ``agent`` as app.ctx.agent."""
    from rasa.core.channels.channel import register

    from tests.connectors.wa_helpers import new_sanic_app, serve_sanic

    app = new_sanic_app()
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    return serve_sanic(app)


@pytest.mark.parametrize(
    ("language", "expected"), [("en", APOLOGY["en"]), ("id", APOLOGY["id"]), (None, APOLOGY["id"])]
)
async def test_the_apology_is_in_the_partner_s_language(
    http: aiohttp.ClientSession, fake_graph: FakeGraph, language: str | None, expected: str
) -> None:
    async def always_fails(message: Any) -> None:
        raise RuntimeError("tracker store down")

    languages = {"6281200000002": language} if language else {}
    agent = SimpleNamespace(
        handle_message=always_fails, tracker_store=FakeTrackerStore(languages),
        is_ready=lambda: True,
    )
    channel = make_channel(fake_graph, mark_as_read=False, turn_attempts=2)
    async with await serve_with_agent(channel, agent) as base_url:
        body = text_message_body("6281200000002", wamid(), "my points?")
        assert await post(http, base_url + "/webhooks/whatsapp/webhook", body) == 200
        await wait_until(lambda: len(fake_graph.messages) == 1)
    (sent,) = fake_graph.messages
    assert sent["to"] == "6281200000002" and sent["text"]["body"] == expected


async def test_a_turn_while_rasa_has_no_model_is_not_lost_silently(
    http: aiohttp.ClientSession, fake_graph: FakeGraph
) -> None:
    """Rasa's agent drops a message without a word when no model is loaded."""
    handled: list[Any] = []

    async def handle_message(message: Any) -> None:
        handled.append(message)

    agent = SimpleNamespace(
        handle_message=handle_message, tracker_store=None, is_ready=lambda: False
    )
    channel = make_channel(fake_graph, mark_as_read=False, turn_attempts=2)
    async with await serve_with_agent(channel, agent) as base_url:
        body = text_message_body(BUDI, wamid(), "halo")
        assert await post(http, base_url + "/webhooks/whatsapp/webhook", body) == 200
        await wait_until(lambda: len(fake_graph.messages) == 1)
    assert handled == []
    assert fake_graph.messages[0]["text"]["body"] == APOLOGY["id"]


@pytest.mark.parametrize("thread_safe", [False, True])
async def test_a_lock_store_that_is_not_thread_safe_is_reported(thread_safe: bool) -> None:
    from rasa.core.lock_store import InMemoryLockStore
    from structlog.testing import capture_logs

    from connectors.lock_store import ThreadSafeInMemoryLockStore

    store = ThreadSafeInMemoryLockStore() if thread_safe else InMemoryLockStore()
    agent = SimpleNamespace(handle_message=TurnRecorder(), lock_store=store)
    with capture_logs() as logs:
        async with await serve_with_agent(make_channel(), agent):
            pass
    warned = [e for e in logs if e["event"] == "whatsapp.lock_store.not_thread_safe"]
    assert bool(warned) is not thread_safe


async def test_a_message_that_cannot_be_stored_gets_503_so_meta_redelivers_it(
    http: aiohttp.ClientSession,
) -> None:
    recorder = TurnRecorder()
    channel = make_channel(queue_redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    async with serve_channel(channel, recorder) as url:
        assert await post(http, url, text_message_body(BUDI, wamid(), "halo")) == 503
        # Statuses need no storage: still acknowledged.
        assert await post(http, url, load_fixture("status_read")) == 200
    assert recorder.started == []


async def test_an_acknowledged_message_survives_a_restart(
    http: aiohttp.ClientSession, tmp_path: Any
) -> None:
    journal = str(tmp_path / "inbound.db")
    hanging = TurnRecorder(delay=30)
    body = text_message_body(BUDI, wamid(), "halo")
    async with serve_channel(
        make_channel(queue_path=journal, shutdown_timeout_seconds=0.05), hanging
    ) as url:
        assert await post(http, url, body) == 200
        await wait_until(lambda: len(hanging.started) == 1)
    assert hanging.turns == []  # stopped in the middle of the turn

    recorder = TurnRecorder()
    async with serve_channel(make_channel(queue_path=journal), recorder) as url:
        await wait_until(lambda: len(recorder.turns) == 1)
        assert await post(http, url, body) == 200  # a redelivery after the restart
        await settled(http, url, recorder)
    assert recorder.texts_for(BUDI)[0] == "halo" and len(recorder.turns) == 2


async def test_other_business_number_is_ignored(http: aiohttp.ClientSession) -> None:
    recorder = TurnRecorder()
    body = text_message_body(BUDI, wamid(), "Halo")
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"
    async with serve_channel(make_channel(), recorder) as url:
        assert await post(http, url, body) == 200
        await settled(http, url, recorder)
    assert len(recorder.started) == 1  # the marker only


async def test_full_queue_answers_503_and_redelivery_is_processed(
    http: aiohttp.ClientSession,
) -> None:
    recorder = TurnRecorder(delay=0.2)
    channel = make_channel(max_pending=1)
    first = text_message_body(BUDI, wamid(), "pertama")
    second = text_message_body("6281200000002", wamid(), "kedua")
    async with serve_channel(channel, recorder) as url:
        assert await post(http, url, first) == 200
        assert await post(http, url, second) == 503  # Meta will redeliver it
        # The slot is free once the first turn is marked done, not when it returns.
        assert channel.webhook is not None
        queue = channel.webhook.queue
        await wait_until(lambda: queue.pending == 0)
        assert await post(http, url, second) == 200
        await wait_until(lambda: len(recorder.turns) == 2)
    assert [m.text for m in recorder.turns] == ["pertama", "kedua"]


async def test_one_sender_cannot_fill_the_queue_for_everyone(
    http: aiohttp.ClientSession,
) -> None:
    recorder = TurnRecorder(delay=0.2)
    channel = make_channel(max_pending=100, max_pending_per_sender=2)
    async with serve_channel(channel, recorder) as url:
        flood = [
            await post(http, url, text_message_body("6289900000000", wamid(), f"spam {i}"))
            for i in range(4)
        ]
        assert flood == [200, 200, 503, 503]
        assert await post(http, url, text_message_body(BUDI, wamid(), "cek poin")) == 200
        await wait_until(lambda: len(recorder.turns) == 3)
    assert recorder.texts_for(BUDI) == ["cek poin"]


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


async def test_redis_queue_across_two_instances_handles_each_message_once(
    http: aiohttp.ClientSession, redis_prefix: str
) -> None:
    recorder_a, recorder_b = TurnRecorder(delay=0.01), TurnRecorder(delay=0.01)
    settings = {
        "queue_redis_url": REDIS_URL, "queue_key_prefix": redis_prefix,
        "queue_partitions": 4, "queue_lease_seconds": 0.6,
    }
    ids = [wamid() for _ in range(10)]
    channel_a, channel_b = make_channel(**settings), make_channel(**settings)
    async with (
        serve_channel(channel_a, recorder_a) as url_a,
        serve_channel(channel_b, recorder_b) as url_b,
    ):
        posts = []
        for i, message_id in enumerate(ids):
            body = text_message_body(f"6281200000{i:03d}", message_id, f"pesan {i}")
            # Meta redelivers: each message reaches both instances, twice each.
            posts += [post(http, url, body) for url in (url_a, url_b, url_a, url_b)]
        assert set(await asyncio.gather(*posts)) == {200}
        # Every copy was either stored or refused as a duplicate before its 200: once
        # the shared pending count is back to 0, nothing more can run.
        client = aioredis.from_url(REDIS_URL, decode_responses=True)
        try:
            queues = [c.webhook.queue for c in (channel_a, channel_b) if c.webhook]
            await wait_until(lambda: len(recorder_a.turns) + len(recorder_b.turns) >= 10)
            await wait_until(lambda: all(q.pending == 0 for q in queues))
            assert await client.get(redis_prefix + "pending") == "0"
            seen = {key async for key in client.scan_iter(match=redis_prefix + "seen:*")}
            ttl = await client.ttl(redis_prefix + "seen:" + ids[0])
            values = set(await client.mget(sorted(seen)))
        finally:
            await client.close()
    handled = [m.message_id for m in recorder_a.turns + recorder_b.turns]
    assert sorted(handled) == sorted(ids)
    assert seen == {redis_prefix + "seen:" + message_id for message_id in ids}
    assert values == {"done"} and 0 < ttl <= 7 * 24 * 3600


async def test_mounted_by_rasa_at_webhooks_whatsapp_webhook(http: aiohttp.ClientSession) -> None:
    """Rasa's own `register` mounts the channel: the URL and the agent hand-off match."""
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
    http: aiohttp.ClientSession, turns_in_thread: bool, tmp_path: Any
) -> None:
    """NLU and policies run synchronously inside a turn; on their own loop (the default)
    they cannot hold up the 200 OK. On the server loop (the contrast) they do."""
    threads: set[str] = set()

    async def busy_turn(message: Any) -> None:
        threads.add(threading.current_thread().name)
        time.sleep(0.3)  # a synchronous stretch, like DIET inference or a SQLite write

    # A journal on disk, as in production: the write happens before every 200.
    channel = make_channel(
        turns_in_thread=turns_in_thread, queue_path=str(tmp_path / "inbound.db")
    )
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
