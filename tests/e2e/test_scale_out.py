"""Two Rasa instances behind one WhatsApp number: PostgreSQL tracker store, Redis lock
store and Redis de-duplication keep one coherent conversation per partner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import pytest
import redis

from tests.e2e.conftest import inbound, message_text, wait_for_messages
from tests.support.demo import SARAH
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
    dedup = {"WHATSAPP_DEDUP_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}"}
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
