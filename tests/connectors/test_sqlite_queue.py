"""The SQLite journal queue: stored before ``put`` returns, done after the turn, resumed
after a crash (a real SIGKILL) in order per sender and once, de-duplicated across
restarts, capped per sender and globally."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.inbound_queue import QUEUE_FULL, SENDER_FULL, QueueClosedError, QueueLimits
from connectors.sqlite_queue import JournalInUseError, SqliteInboundQueue, SqliteJournal
from connectors.turn_scheduler import TurnPolicy
from connectors.whatsapp_payloads import InboundMessage
from tests.connectors.crash_child import PER_SENDER, SENDERS, crash_messages, run_and_kill
from tests.connectors.test_turn_scheduler import Apologies
from tests.connectors.wa_helpers import TurnRecorder, wait_until

FAST = TurnPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=5)


def message(sender: str, text: str, message_id: str | None = None) -> InboundMessage:
    return InboundMessage(
        message_id=message_id or f"wamid.{uuid.uuid4().hex}", sender_id=sender, type="text",
        text=text,
    )


def rows(path: Path) -> list[tuple[Any, ...]]:
    """The journal as another process sees it."""
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT message_id, sender_id, state, attempts, body != '' FROM inbound ORDER BY seq"
        ).fetchall()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "var" / "inbound.db"


@pytest.fixture
async def opened() -> AsyncIterator[list[SqliteInboundQueue]]:
    queues: list[SqliteInboundQueue] = []
    yield queues
    for queue in queues:
        await queue.close(timeout=0.1)


def open_queue(
    opened: list[SqliteInboundQueue], path: Path | str, handler: Any, **kwargs: Any
) -> SqliteInboundQueue:
    kwargs.setdefault("policy", FAST)
    give_up = kwargs.pop("give_up", None) or Apologies()
    queue = SqliteInboundQueue(handler, give_up, path=str(path), **kwargs)
    opened.append(queue)
    return queue


async def test_stored_before_put_returns_and_done_after_the_turn(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def handler(message: InboundMessage) -> None:
        await release.wait()
        finished.append(message.text or "")

    queue = open_queue(opened, journal, handler)
    first = message("6281200000001", "halo")
    admission = await queue.put([first])
    assert admission.accepted == [first]
    assert rows(journal) == [(first.message_id, "6281200000001", "pending", 0, 1)]
    await wait_until(lambda: rows(journal)[0][3] == 1)  # the attempt is written first
    release.set()
    await wait_until(lambda: rows(journal)[0][2] == "done")
    # The text is erased once handled; the id stays for de-duplication.
    assert rows(journal) == [(first.message_id, "6281200000001", "done", 1, 0)]
    assert finished == ["halo"] and queue.pending == 0


async def test_journal_is_in_wal_mode_with_the_chosen_synchronous_level(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    queue = open_queue(opened, journal, TurnRecorder(), synchronous="full")
    await queue.start()
    with sqlite3.connect(journal) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    level = await queue._call(lambda: queue._journal.db.execute("PRAGMA synchronous").fetchone())
    assert level[0] == 2  # FULL
    with pytest.raises(ValueError):
        SqliteJournal(str(journal), synchronous="sometimes")


def test_messages_acknowledged_before_kill_9_are_all_resumed_in_order_once(
    journal: Path,
) -> None:
    lines = run_and_kill(
        ["sqlite", str(journal)],
        # Every message stored, a-0 handled, the next turn of a, b and c running.
        ready=lambda seen: {"done a-0", "started a-1", "started b-0", "started c-0"} <= set(seen)
        and sum(line.startswith("stored") for line in seen) == len(SENDERS) * PER_SENDER,
    )
    assert "started b-1" not in lines  # later messages of a sender wait for the first
    states = {row[0]: (row[2], row[3]) for row in rows(journal)}
    assert states["wamid.crash.a.0"] == ("done", 1)
    assert states["wamid.crash.b.0"] == ("pending", 1)  # interrupted during its attempt
    assert list(states.values()).count(("pending", 0)) == len(SENDERS) * PER_SENDER - 4

    async def restart() -> TurnRecorder:
        recorder = TurnRecorder()
        queue = SqliteInboundQueue(recorder, Apologies(), path=str(journal), policy=FAST)
        await queue.start()
        await wait_until(lambda: queue.pending == 0)
        # Redelivered by Meta after the restart: handled or pending, never again.
        admission = await queue.put(crash_messages())
        assert admission.accepted == [] and len(admission.duplicates) == len(crash_messages())
        await queue.close()
        return recorder

    recorder = asyncio.run(restart())
    assert recorder.texts_for("a") == [f"a-{i}" for i in range(1, PER_SENDER)]
    for sender in ("b", "c"):
        assert recorder.texts_for(sender) == [f"{sender}-{i}" for i in range(PER_SENDER)]
    assert {row[2] for row in rows(journal)} == {"done"}
    assert {row[0]: row[3] for row in rows(journal)}["wamid.crash.b.0"] == 2


async def test_graceful_stop_leaves_unfinished_turns_for_the_next_start(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    hanging = TurnRecorder(delay=10)
    queue = open_queue(opened, journal, hanging)
    batch = [message("a", "a0"), message("b", "b0"), message("a", "a1")]
    assert (await queue.put(batch)).accepted == batch
    await wait_until(lambda: len(hanging.started) == 2)
    await queue.close(timeout=0.05)
    with pytest.raises(QueueClosedError):
        await queue.put([message("a", "late")])

    recorder = TurnRecorder()
    again = open_queue(opened, journal, recorder)
    await again.start()
    await wait_until(lambda: len(recorder.turns) == 3)
    assert recorder.texts_for("a") == ["a0", "a1"] and recorder.texts_for("b") == ["b0"]


async def test_a_redelivered_id_is_stored_once(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    recorder = TurnRecorder(delay=0.05)
    queue = open_queue(opened, journal, recorder)
    first = message("a", "halo")
    twice_in_one_body = await queue.put([first, first])
    assert twice_in_one_body.accepted == [first] and twice_in_one_body.duplicates == [first]
    assert (await queue.put([first])).duplicates == [first]  # while pending
    follow_up = message("a", "lagi")
    await queue.put([follow_up])
    await wait_until(lambda: recorder.texts_for("a") == ["halo", "lagi"])
    assert (await queue.put([first])).duplicates == [first]  # after done
    assert [row[0] for row in rows(journal)] == [first.message_id, follow_up.message_id]


async def test_a_message_that_failed_every_attempt_is_tried_again_when_redelivered(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    """The partner got the apology; the id must not block Meta's redelivery for 7 days."""
    calls: list[str] = []

    async def handler(message: InboundMessage) -> None:
        calls.append(message.text or "")
        if len(calls) <= FAST.attempts:
            raise RuntimeError("tracker store down")

    apologies = Apologies()
    queue = open_queue(opened, journal, handler, give_up=apologies)
    broken = message("a", "cek poin")
    await queue.put([broken])
    await wait_until(lambda: rows(journal)[0][2] == "failed")
    assert calls == ["cek poin"] * FAST.attempts and len(apologies.calls) == 1
    assert (await queue.put([broken])).accepted == [broken]
    await wait_until(lambda: rows(journal)[-1][2] == "done")
    assert len(calls) == FAST.attempts + 1 and len(apologies.calls) == 1
    assert [row[0] for row in rows(journal)] == [broken.message_id]


async def test_a_message_that_kills_every_attempt_ends_with_the_apology(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    policy = TurnPolicy(attempts=2, base_delay=0.01, timeout=5)
    poison = message("a", "poison")
    for life in range(policy.attempts):
        hanging = TurnRecorder(delay=10)
        queue = open_queue(opened, journal, hanging, policy=policy)
        if life == 0:
            await queue.put([poison])
        else:
            await queue.start()
        await wait_until(lambda: len(hanging.started) == 1)  # noqa: B023 - awaited here
        await queue.close(timeout=0.01)  # as if the turn had taken the process down
    assert rows(journal)[0][2:4] == ("pending", 2)

    recorder, apologies = TurnRecorder(), Apologies()
    queue = open_queue(opened, journal, recorder, policy=policy, give_up=apologies)
    await queue.start()
    await wait_until(lambda: rows(journal)[0][2] == "failed")
    assert recorder.started == [] and apologies.calls == [("poison", None)]


async def test_one_sender_cannot_fill_the_queue(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    recorder = TurnRecorder(delay=0.05)
    limits = QueueLimits(max_pending=4, max_pending_per_sender=2)
    queue = open_queue(opened, journal, recorder, limits=limits)
    flood = [message("flood", f"f{i}") for i in range(4)]
    admission = await queue.put(flood)
    assert admission.accepted == flood[:2]
    assert admission.refused == [(flood[2], SENDER_FULL), (flood[3], SENDER_FULL)]
    others = [message(f"partner{i}", "halo") for i in range(3)]
    admission = await queue.put(others)
    assert admission.accepted == others[:2] and admission.refused == [(others[2], QUEUE_FULL)]
    await wait_until(lambda: queue.pending == 0)
    assert (await queue.put(flood[2:])).accepted == flood[2:]  # Meta's redelivery
    await wait_until(lambda: len(recorder.turns) == 6)
    assert recorder.texts_for("flood") == ["f0", "f1", "f2", "f3"]


async def test_pending_counts_survive_a_restart(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    limits = QueueLimits(max_pending=10, max_pending_per_sender=2)
    queue = open_queue(opened, journal, TurnRecorder(delay=10), limits=limits)
    await queue.put([message("a", "1"), message("a", "2")])
    await queue.close(timeout=0.01)
    again = open_queue(opened, journal, TurnRecorder(delay=10), limits=limits)
    await again.start()
    assert again.pending == 2
    assert (await again.put([message("a", "3")])).refused[0][1] == SENDER_FULL


async def test_a_second_instance_cannot_open_the_same_journal(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    queue = open_queue(opened, journal, TurnRecorder())
    await queue.start()
    with pytest.raises(JournalInUseError, match="WHATSAPP_QUEUE_REDIS_URL"):
        open_queue(opened, journal, TurnRecorder())
    await queue.close()
    open_queue(opened, journal, TurnRecorder())  # free again once closed (or killed)


def test_handled_ids_are_forgotten_after_the_retention_period(journal: Path) -> None:
    now = [1000.0]
    store = SqliteJournal(str(journal), retention_seconds=60, clock=lambda: now[0])
    store.open()
    done, pending = message("a", "1"), message("a", "2")
    _, (seq, _) = store.admit([done, pending], QueueLimits())
    store.finish(seq, "a", "done")
    now[0] += 61
    assert store.prune() == 1
    admission, _ = store.admit([done, pending], QueueLimits())
    assert admission.accepted == [done] and admission.duplicates == [pending]
    store.close()


# --- shared with the ingress gateway (WHATSAPP_INGRESS=gateway) -----------------------


def gateway_queue(opened: list[SqliteInboundQueue], path: Path, **kwargs: Any) -> Any:
    async def never(*_: Any) -> None:
        raise AssertionError("the gateway's queue must never run a turn")

    return open_queue(opened, path, never, give_up=never, runs_turns=False, **kwargs)


async def test_rows_the_gateway_stores_run_in_rasa_in_order_per_sender_once(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    gateway = gateway_queue(opened, journal)
    recorder = TurnRecorder(delays={"0": 0.05})  # each sender's first turn is the slowest
    rasa = open_queue(opened, journal, recorder, watch_seconds=0.01)
    await rasa.start()
    senders = [f"62812000{i:05d}" for i in range(5)]
    sent = [[message(s, str(n)) for s in senders] for n in range(4)]
    for batch in sent:
        assert (await gateway.put(batch)).accepted == batch
    # Meta redelivers a body to the gateway and one straight to Rasa: both duplicates.
    assert (await gateway.put(sent[0])).duplicates == sent[0]
    assert (await rasa.put(sent[1])).duplicates == sent[1]
    await wait_until(lambda: len(recorder.turns) == 20)
    await wait_until(lambda: all(state == "done" for _, _, state, _, _ in rows(journal)))
    for sender in senders:
        assert recorder.texts_for(sender) == ["0", "1", "2", "3"]
    assert recorder.max_active_per_sender == 1 and recorder.max_active > 1
    assert len(rows(journal)) == 20  # each message once


async def test_the_gateway_counts_the_cap_from_what_rasa_finished(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    gateway = gateway_queue(opened, journal, limits=QueueLimits(max_pending_per_sender=2))
    release = asyncio.Event()

    async def slow(message: InboundMessage) -> None:
        await release.wait()

    rasa = open_queue(opened, journal, slow, watch_seconds=0.01)
    await rasa.start()
    flood = [message("6289900000000", f"spam {i}") for i in range(3)]
    admission = await gateway.put(flood)
    assert admission.accepted == flood[:2]
    assert admission.refused == [(flood[2], SENDER_FULL)]
    await wait_until(lambda: rasa.pending == 2)  # Rasa picked them up and runs them
    assert (await gateway.put([flood[2]])).refused == [(flood[2], SENDER_FULL)]
    release.set()
    await wait_until(lambda: [row[2] for row in rows(journal)] == ["done", "done"])
    assert (await gateway.put([flood[2]])).accepted == [flood[2]]  # room again


async def test_one_gateway_per_journal_beside_one_rasa(
    journal: Path, opened: list[SqliteInboundQueue]
) -> None:
    gateway_queue(opened, journal)
    open_queue(opened, journal, TurnRecorder(), watch_seconds=0.01)  # Rasa: allowed
    with pytest.raises(JournalInUseError):
        gateway_queue(opened, journal)


def test_a_shared_journal_needs_a_file() -> None:
    with pytest.raises(ValueError, match="file"):
        SqliteInboundQueue(TurnRecorder(), Apologies(), path=":memory:", runs_turns=False)
