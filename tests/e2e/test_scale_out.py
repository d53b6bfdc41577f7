"""Two Rasa instances behind one WhatsApp number: PostgreSQL tracker store, Redis lock
store and the Redis-streams inbound queue keep one coherent conversation per partner —
each message handled once, each partner's messages in order, whichever instance Meta
posts them to."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
import redis

from tests.e2e.conftest import inbound, message_text, wait_for_messages
from tests.e2e.test_crash_recovery import (
    PER_PARTNER,
    Burst,
    kill_outside_the_reply_window,
    post,
    redis_state,
    replies,
    replies_per_message,
    wait_for,
)
from tests.support.demo import ANDI, FIXTURES, SARAH
from tests.support.processes import (
    WEBHOOK_PATH,
    Process,
    Stack,
    free_port,
    running,
    start_rasa,
    start_sandbox,
    write_endpoints,
)

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_DB = 14
# (message, what its answer must contain): each answer is in the language the message
# before it chose, so any reordering or overlap of one partner's turns shows. Ends in
# Indonesian, as the demo partners who use it started.
LANGUAGE_FLIPS = [
    ("english please", "in English"),
    ("tier saya", "Your tier"),
    ("pakai bahasa indonesia", "Bahasa Indonesia"),
    ("my tier", "Tier Anda"),
    ("english please", "in English"),
    ("cek poin dong", "You have"),
    ("pakai bahasa indonesia", "Bahasa Indonesia"),
]


@pytest.fixture(scope="module")
def tracker_db() -> Iterator[str]:
    name = f"mitra_test_tracker_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(dbname="postgres", **PG)
    connection.autocommit = True
    connection.cursor().execute(f'CREATE DATABASE "{name}"')
    yield name
    connection.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


@pytest.fixture(scope="module")
def two_instances(stack: Stack, tracker_db: str, tmp_path_factory) -> Iterator[
    tuple[Process, Process, Process, Process]
]:
    log_dir = tmp_path_factory.mktemp("scale")
    prefix = f"mitra{uuid.uuid4().hex[:6]}"
    endpoints = write_endpoints(
        log_dir / "endpoints.yml", stack.actions.url,
        f"  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n  port: 5432\n"
        f"  db: {tracker_db}\n  username: postgres\n",
        lock_store=f"  type: redis\n  url: 127.0.0.1\n  port: 6379\n  db: {REDIS_DB}\n"
                   f"  key_prefix: {prefix}\n",
    )
    dedup = {
        "WHATSAPP_QUEUE_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "WHATSAPP_QUEUE_KEY_PREFIX": f"{prefix}:whatsapp:",
        "WHATSAPP_QUEUE_LEASE_SECONDS": "3",
    }
    port_a, port_b = free_port(), free_port()
    sandbox_a = start_sandbox(log_dir, f"http://127.0.0.1:{port_a}{WEBHOOK_PATH}", "sandbox-a")
    sandbox_b = start_sandbox(log_dir, f"http://127.0.0.1:{port_b}{WEBHOOK_PATH}", "sandbox-b")
    # Both instances send through sandbox A, so it records the whole conversation.
    rasa_a = start_rasa(log_dir, endpoints, sandbox_a.url, "rasa-a", dedup, port=port_a)
    rasa_b = start_rasa(log_dir, endpoints, sandbox_a.url, "rasa-b", dedup, port=port_b)
    with running(sandbox_a, sandbox_b, rasa_a, rasa_b):
        yield sandbox_a, sandbox_b, rasa_a, rasa_b
    redis.Redis(db=REDIS_DB).flushdb()


def test_alternating_instances_keep_one_conversation(two_instances):
    sandbox_a, sandbox_b, _, _ = two_instances
    # A: switch to Indonesian (Sarah's stored language is English) …
    inbound(sandbox_a, **{"from": SARAH, "text": "pakai bahasa indonesia"})
    assert "Bahasa Indonesia" in message_text(wait_for_messages(sandbox_a, SARAH, 1)[0])
    # … B knows it from the shared tracker store and answers in Indonesian.
    inbound(sandbox_b, **{"from": SARAH, "text": "cek poin dong"})
    assert "Poin Anda saat ini" in message_text(wait_for_messages(sandbox_a, SARAH, 2)[1])
    # A again, back to English.
    inbound(sandbox_a, **{"from": SARAH, "text": "english please"})
    wait_for_messages(sandbox_a, SARAH, 3)
    inbound(sandbox_b, **{"from": SARAH, "text": "my tier"})
    messages = wait_for_messages(sandbox_a, SARAH, 4)
    assert "Your tier" in message_text(messages[3])


def test_redelivery_to_the_other_instance_is_processed_once(two_instances):
    sandbox_a, sandbox_b, _, _ = two_instances
    sender = f"redelivery-{uuid.uuid4().hex[:8]}"
    message_id = f"wamid.{uuid.uuid4().hex}"
    inbound(sandbox_a, **{"from": sender, "text": "halo", "message_id": message_id})
    inbound(sandbox_b, **{"from": sender, "text": "halo", "message_id": message_id})
    inbound(sandbox_a, **{"from": sender, "text": "halo", "message_id": message_id})
    first = wait_for_messages(sandbox_a, sender, 1)
    assert len(first) == 1
    # Give a duplicate turn time to show up, then check there is none.
    later = wait_for_messages(sandbox_a, sender, 2, timeout=4)
    assert len(later) == 1


def test_a_burst_through_both_instances_keeps_the_partner_s_order(two_instances):
    """Back to back, alternating instances, no waiting for replies: each answer must be
    in the language the message before it chose, so any reordering or overlap between
    the instances shows."""
    sandbox_a, sandbox_b, rasa_a, rasa_b = two_instances
    wait_until_both_instances_read(rasa_a, rasa_b)
    burst = LANGUAGE_FLIPS
    before = len(wait_for_messages(sandbox_a, ANDI, 0, timeout=0))
    for n, (text, _) in enumerate(burst):
        inbound((sandbox_a, sandbox_b)[n % 2], **{"from": ANDI, "text": text})
    messages = wait_for_messages(sandbox_a, ANDI, before + len(burst), timeout=60)[before:]
    answers = [message_text(m) for m in messages]
    assert len(answers) == len(burst), answers
    for (text, expected), answer in zip(burst, answers, strict=True):
        assert expected in answer, (text, answer)


def test_an_instance_killed_mid_burst_is_taken_over_by_the_other(two_instances):
    """Runs last: it kills instance B. Meta spreads the burst over both instances; B dies
    with messages acknowledged but not handled; A takes B's partitions over once their
    leases expire and answers every acknowledged message, once."""
    sandbox_a, sandbox_b, rasa_a, rasa_b = two_instances
    wait_until_both_instances_read(rasa_a, rasa_b)
    client = redis.Redis(db=REDIS_DB)
    (prefix,) = {
        key.decode().split("lease:")[0] for key in client.scan_iter(match="*:whatsapp:lease:*")
    }
    state = redis_state(client, prefix)
    per_message = replies_per_message(sandbox_a, state)
    base = {wa_id: replies(sandbox_a, wa_id) for wa_id in FIXTURES}
    burst = Burst([
        ((sandbox_a, sandbox_b)[n % 2], wa_id, f"wamid.scale.{wa_id}.{n}.{uuid.uuid4().hex[:6]}")
        for n in range(PER_PARTNER) for wa_id in FIXTURES
    ])
    burst.start()
    wait_for(
        lambda: len(state.done_ids(burst.ids)) >= 3
        and len(burst.acked) - len(state.done_ids(burst.ids)) >= 8,
        120, "the middle of the burst",
    )
    done_at_kill = kill_outside_the_reply_window(
        rasa_b, sandbox_a, state, burst, per_message, base, others=[rasa_a]
    )
    burst.join()
    assert set(burst.acked) - done_at_kill, "nothing was left to take over"
    # Meta redelivers what B could not acknowledge; the load balancer sends it to A.
    for _, wa_id, message_id in burst.messages:
        if message_id in burst.refused:
            assert post(sandbox_a, wa_id, message_id) == 200
    wait_for(lambda: state.done_ids(burst.ids) == set(burst.ids), 120, "every message done")
    for wa_id in FIXTURES:
        sent = replies(sandbox_a, wa_id) - base[wa_id]
        assert sent == per_message[wa_id] * PER_PARTNER, (wa_id, sent, per_message)
    assert client.get(f"{prefix}pending") == b"0"
    client.close()


def wait_until_both_instances_read(*instances: Process) -> None:
    """Both hold partitions of the stream (each instance takes half once it sees the
    other), so the burst really is split between them."""
    client = redis.Redis(db=REDIS_DB, decode_responses=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            holders = {
                client.get(key) for key in client.scan_iter(match="*:whatsapp:lease:*")
            }
            if len(holders - {None}) == len(instances):
                return
            assert time.monotonic() < deadline, holders
            time.sleep(0.2)
    finally:
        client.close()
