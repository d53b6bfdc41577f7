"""Rasa is killed with SIGKILL in the middle of a burst of signed webhooks and started
again on the same port with the same inbound queue: every message that was acknowledged
gets its reply, none twice — on the SQLite journal (the default) and on Redis streams.

The sandbox plays Meta: it signs and posts each webhook and reports the status Rasa
answered; what did not get its 200 (Rasa was dead) is posted again after the restart,
as Meta would, and so are a few that did (Meta redelivers those too, sometimes).

Where the kill lands. A reply goes out before its turn is marked done, so a kill in the
milliseconds between the two reruns that turn after the restart and the partner reads
the reply twice: the queue is at-least-once there, by design (connectors/README.md).
This test is about everything else — acknowledged messages that were waiting or whose
turn was running — so it freezes Rasa (SIGSTOP), checks that no turn is inside that
window (per partner: replies sent == replies per message x messages done), and only
then kills it; otherwise it lets Rasa run on for a moment and tries again.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

from tests.support.demo import FIXTURES
from tests.support.processes import (
    WEBHOOK_PATH,
    Process,
    free_port,
    kill_9,
    running,
    start_action_server,
    start_backend,
    start_gateway,
    start_rasa,
    start_sandbox,
    write_endpoints,
)

REDIS_DB = 13
# Enough, posted back to back, that turns fall behind and some wait when Rasa is killed.
PER_PARTNER = 24
TEXT = "cek poin"
LOCK_STORE = "  type: connectors.lock_store.ThreadSafeInMemoryLockStore\n"


@dataclass
class Services:
    log_dir: Path
    backend: Process
    actions: Process


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    log_dir = tmp_path_factory.mktemp("crash")
    backend = start_backend(log_dir, f"sqlite:///{log_dir / 'mitra.db'}")
    with running(backend):
        actions = start_action_server(log_dir, backend.url)
        with running(actions):
            yield Services(log_dir, backend, actions)


class QueueState:
    """Which message ids the queue has finished, read from outside the Rasa process."""

    def __init__(self, done_ids: Callable[[list[str]], set[str]]) -> None:
        self.done_ids = done_ids


def sqlite_state(path: Path) -> QueueState:
    def done_ids(ids: list[str]) -> set[str]:
        if not path.exists():
            return set()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute("SELECT message_id FROM inbound WHERE state = 'done'").fetchall()
        return {row[0] for row in rows} & set(ids)

    return QueueState(done_ids)


def redis_state(client: redis.Redis, prefix: str) -> QueueState:
    def done_ids(ids: list[str]) -> set[str]:
        values = client.mget([f"{prefix}seen:{i}" for i in ids]) if ids else []
        return {i for i, value in zip(ids, values, strict=True) if value == b"done"}

    return QueueState(done_ids)


@dataclass
class Burst:
    """Posts the messages, each through its sandbox, from a thread, one after another."""

    messages: list[tuple[Process, str, str]]  # (sandbox, wa_id, message_id), in order
    pause: float = 0.0
    acked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for sandbox, wa_id, message_id in self.messages:
            status = post(sandbox, wa_id, message_id)
            (self.acked if status == 200 else self.refused).append(message_id)
            time.sleep(self.pause)

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(timeout=120)

    @property
    def ids(self) -> list[str]:
        return [message_id for _, _, message_id in self.messages]

    def ids_of(self, wa_id: str) -> set[str]:
        return {message_id for _, w, message_id in self.messages if w == wa_id}


def post(sandbox: Process, wa_id: str, message_id: str) -> int:
    """The status Rasa answered the signed webhook with (0: it could not be reached)."""
    response = requests.post(
        f"{sandbox.url}/sandbox/inbound",
        json={"from": wa_id, "text": TEXT, "message_id": message_id}, timeout=30,
    )
    return int(response.json().get("webhook_status") or 0)


def replies(sandbox: Process, wa_id: str) -> int:
    response = requests.get(f"{sandbox.url}/sandbox/messages", params={"to": wa_id}, timeout=5)
    response.raise_for_status()
    return sum(m["payload"].get("type") != "read" for m in response.json()["messages"])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def replies_per_message(sandbox: Process, state: QueueState) -> dict[str, int]:
    """One message per partner; how many replies each answer has (Budi's has two)."""
    per_message = {}
    for wa_id in FIXTURES:
        message_id = f"wamid.warmup.{uuid.uuid4().hex}"
        before = replies(sandbox, wa_id)
        assert post(sandbox, wa_id, message_id) == 200
        wait_for(lambda: state.done_ids([message_id]), 60, f"warm-up of {wa_id}")  # noqa: B023
        per_message[wa_id] = replies(sandbox, wa_id) - before
        assert per_message[wa_id] >= 1
    return per_message


def kill_outside_the_reply_window(
    victim: Process, sandbox: Process, state: QueueState, burst: Burst,
    per_message: dict[str, int], base: dict[str, int], others: Sequence[Process] = (),
) -> set[str]:
    """SIGKILL ``victim`` at a moment no turn has sent its reply without being marked
    done (``others``, Rasa instances that live on, are frozen for the check too);
    returns the ids that were done at that moment. ``sandbox`` records every reply."""
    frozen = [victim, *others]
    for _ in range(60):
        for process in frozen:
            os.kill(process.popen.pid, signal.SIGSTOP)
        done = state.done_ids(burst.ids)
        consistent = all(
            replies(sandbox, wa_id) - base[wa_id]
            == per_message[wa_id] * len(done & burst.ids_of(wa_id))
            for wa_id in FIXTURES
        )
        if consistent:
            kill_9(victim)
        for process in others if consistent else frozen:
            os.kill(process.popen.pid, signal.SIGCONT)
        if consistent:
            return done
        time.sleep(random.uniform(0.02, 0.2))
    raise AssertionError("Rasa was never outside the reply window")


def sqlite_tracker_endpoints(log_dir: Path, actions_url: str) -> Path:
    return write_endpoints(
        log_dir / "endpoints.yml", actions_url,
        f"  type: SQL\n  dialect: sqlite\n  db: {log_dir / 'tracker.db'}\n",
        lock_store=LOCK_STORE,
    )


@dataclass
class KilledBurst:
    burst: Burst
    done_at_kill: set[str]
    per_message: dict[str, int]
    base: dict[str, int]


def burst_and_kill(rasa: Process, sandbox: Process, state: QueueState, label: str) -> KilledBurst:
    """Post PER_PARTNER messages per demo partner back to back and SIGKILL ``rasa`` in
    the middle (some answered, more acknowledged and waiting, more to come)."""
    per_message = replies_per_message(sandbox, state)
    base = {wa_id: replies(sandbox, wa_id) for wa_id in FIXTURES}
    burst = Burst([
        (sandbox, wa_id, f"wamid.burst.{label}.{wa_id}.{n}.{uuid.uuid4().hex[:6]}")
        for n in range(PER_PARTNER) for wa_id in FIXTURES
    ])
    ids = burst.ids
    burst.start()
    wait_for(
        lambda: len(state.done_ids(ids)) >= 3
        and len(burst.acked) - len(state.done_ids(ids)) >= 8,
        120, "the middle of the burst",
    )
    done_at_kill = kill_outside_the_reply_window(rasa, sandbox, state, burst, per_message, base)
    burst.join()
    # One more webhook per partner while Rasa is dead, as Meta would send in that moment:
    # on a busy machine the whole burst may have been posted before the kill came.
    for wa_id in FIXTURES:
        message_id = f"wamid.burst.{label}.{wa_id}.late.{uuid.uuid4().hex[:6]}"
        burst.messages.append((sandbox, wa_id, message_id))
        status = post(sandbox, wa_id, message_id)
        (burst.acked if status == 200 else burst.refused).append(message_id)
    return KilledBurst(burst, done_at_kill, per_message, base)


def assert_each_answered_once(sandbox: Process, state: QueueState, run: KilledBurst) -> None:
    ids = run.burst.ids
    wait_for(lambda: state.done_ids(ids) == set(ids), 180, "every message done")
    for wa_id in FIXTURES:
        sent = replies(sandbox, wa_id) - run.base[wa_id]
        expected = run.per_message[wa_id] * len(run.burst.ids_of(wa_id))
        assert sent == expected, (wa_id, sent, run.per_message)


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_kill_9_mid_burst_every_acknowledged_message_is_answered_once(
    services: Services, queue: str
) -> None:
    log_dir = services.log_dir / queue
    log_dir.mkdir()
    redis_client = redis.Redis(db=REDIS_DB)
    prefix = f"mitra:e2e:{uuid.uuid4().hex[:8]}:"
    if queue == "sqlite":
        journal = log_dir / "inbound.db"
        env = {"WHATSAPP_QUEUE_PATH": str(journal)}
        state = sqlite_state(journal)
    else:
        env = {
            "WHATSAPP_QUEUE_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "WHATSAPP_QUEUE_KEY_PREFIX": prefix,
            "WHATSAPP_QUEUE_LEASE_SECONDS": "5",
        }
        state = redis_state(redis_client, prefix)
    endpoints = sqlite_tracker_endpoints(log_dir, services.actions.url)
    port = free_port()
    sandbox = start_sandbox(log_dir, f"http://127.0.0.1:{port}{WEBHOOK_PATH}", f"sandbox-{queue}")
    rasa = start_rasa(log_dir, endpoints, sandbox.url, f"rasa-{queue}", env, port=port)
    restarted: Process | None = None
    try:
        run = burst_and_kill(rasa, sandbox, state, queue)
        burst, done_at_kill = run.burst, run.done_at_kill
        acked = set(burst.acked)
        waiting = acked - done_at_kill
        assert waiting, "nothing was left to recover: the kill came too late"
        assert burst.refused, "the whole burst got through: the kill came too early"
        print(f"{queue}: {len(done_at_kill)} done, {len(waiting)} acknowledged and waiting, "
              f"{len(burst.refused)} refused at the kill")

        restarted = start_rasa(log_dir, endpoints, sandbox.url, f"rasa-{queue}-2", env, port=port)
        # Meta redelivers what got no 200, and now and then what did.
        for _, wa_id, message_id in burst.messages:
            if message_id not in acked or message_id in list(acked)[:3]:
                assert post(sandbox, wa_id, message_id) == 200
        assert_each_answered_once(sandbox, state, run)
        if queue == "redis":
            assert redis_client.get(f"{prefix}pending") == b"0"
        else:
            with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
                assert db.execute(
                    "SELECT count(*) FROM inbound WHERE state != 'done'"
                ).fetchone() == (0,)
    finally:
        for process in (restarted, rasa, sandbox):
            if process is not None:
                if process.popen.poll() is None:
                    os.kill(process.popen.pid, signal.SIGCONT)
                process.stop()
        keys = list(redis_client.scan_iter(match=prefix + "*"))
        if keys:
            redis_client.delete(*keys)
        redis_client.close()


def test_with_the_gateway_webhooks_are_acknowledged_while_rasa_is_dead(
    services: Services,
) -> None:
    """WHATSAPP_INGRESS=gateway: Rasa killed mid-burst costs no 503 at all (the gateway
    stores and acknowledges on its own); the restarted Rasa answers each message once."""
    log_dir = services.log_dir / "gateway"
    log_dir.mkdir()
    journal = log_dir / "inbound.db"
    env = {"WHATSAPP_QUEUE_PATH": str(journal), "WHATSAPP_INGRESS": "gateway"}
    state = sqlite_state(journal)
    endpoints = sqlite_tracker_endpoints(log_dir, services.actions.url)
    gateway_port, rasa_port = free_port(), free_port()
    sandbox = start_sandbox(
        log_dir, f"http://127.0.0.1:{gateway_port}{WEBHOOK_PATH}", "sandbox-gateway"
    )
    gateway = start_gateway(log_dir, sandbox.url, env, port=gateway_port)
    rasa = start_rasa(log_dir, endpoints, sandbox.url, "rasa-gw", env, port=rasa_port)
    restarted: Process | None = None
    try:
        run = burst_and_kill(rasa, sandbox, state, "gw")
        burst = run.burst
        assert burst.refused == [], "the gateway refused webhooks while Rasa was dead"
        assert set(burst.acked) == set(burst.ids)
        assert set(burst.ids) - run.done_at_kill, "nothing was left to recover: killed too late"

        restarted = start_rasa(log_dir, endpoints, sandbox.url, "rasa-gw-2", env, port=rasa_port)
        for _, wa_id, message_id in burst.messages[:3]:  # Meta redelivers now and then
            assert post(sandbox, wa_id, message_id) == 200
        assert_each_answered_once(sandbox, state, run)
    finally:
        for process in (restarted, rasa, gateway, sandbox):
            if process is not None:
                if process.popen.poll() is None:
                    os.kill(process.popen.pid, signal.SIGCONT)
                process.stop()
