"""The scale-out configuration as `bench/whatsapp_bench.py scale` measures it: the
ingress gateway in front of one `rasa run` with two Sanic workers (processes), sharing
the Redis-streams queue and the Redis lock store, PostgreSQL tracker store. Both workers
run turns, and each partner's messages are still answered once and in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import redis

from tests.e2e.conftest import inbound, message_text, wait_for_messages
from tests.e2e.test_crash_recovery import wait_for
from tests.e2e.test_scale_out import LANGUAGE_FLIPS
from tests.support.demo import ANDI, SARAH
from tests.support.processes import Stack, running, start_stack

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_DB = 12


@pytest.fixture(scope="module")
def workers_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    database = f"mitra_test_workers_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    prefix = f"mitra{uuid.uuid4().hex[:6]}:whatsapp:"
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        stack = start_stack(
            Path(tmp_path_factory.mktemp("workers")), gateway=True,
            rasa_env={"SANIC_WORKERS": "2", "WHATSAPP_QUEUE_REDIS_URL": url,
                      "WHATSAPP_QUEUE_KEY_PREFIX": prefix},
            tracker_store=("  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n"
                           f"  port: 5432\n  db: {database}\n  username: postgres\n"),
            lock_store=f"  type: redis\n  url: 127.0.0.1\n  port: 6379\n  db: {REDIS_DB}\n",
        )
        with running(*stack.processes):
            yield stack, prefix
    finally:
        client = redis.Redis(db=REDIS_DB)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def test_two_workers_share_the_turns_and_keep_each_partner_in_order(
    workers_stack: tuple[Stack, str],
) -> None:
    stack, prefix = workers_stack
    client = redis.Redis(db=REDIS_DB)
    # Both workers joined the queue's consumers and hold partitions.
    wait_for(lambda: client.zcard(prefix + "consumers") == 2, 60, "two consumers")
    wait_for(lambda: len({client.get(k) for k in client.scan_iter(match=prefix + "lease:*")})
             == 2, 30, "partitions held by both workers")
    # Each answer must be in the language the message before it chose: any reordering
    # or overlap of a partner's turns (between the workers too) shows.
    burst = LANGUAGE_FLIPS
    partners = [ANDI, SARAH]  # different partitions or not, interleaved back to back
    before = {p: len(wait_for_messages(stack.sandbox, p, 0, timeout=0)) for p in partners}
    for text, _ in burst:
        for partner in partners:
            inbound(stack.sandbox, **{"from": partner, "text": text})
    for partner in partners:
        messages = wait_for_messages(
            stack.sandbox, partner, before[partner] + len(burst), timeout=60
        )[before[partner]:]
        answers = [message_text(m) for m in messages]
        assert len(answers) == len(burst), answers
        for (text, expected), answer in zip(burst, answers, strict=True):
            assert expected in answer, (partner, text, answer)
    # A turn is acknowledged after its answer went out, so the counter may lag the
    # sandbox by a moment: wait for it rather than read it once.
    wait_for(lambda: client.get(prefix + "pending") == b"0", 15, "every turn acknowledged")
    client.close()
