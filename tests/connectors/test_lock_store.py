"""The thread-safe in-memory lock store: one conversation, one turn at a time, even when
turns come from two threads (WhatsApp turns on the turn thread, Rasa's HTTP API on the
server loop)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import pytest
from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from connectors.lock_store import ThreadSafeInMemoryLockStore


@pytest.fixture
def slow_lock_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between "no lock yet" and "lock saved" (where a thread switch
    can always happen) so the race shows on every run, not once in a while."""

    def create_lock(conversation_id: str) -> TicketLock:
        time.sleep(0.005)
        return TicketLock(conversation_id)

    monkeypatch.setattr(LockStore, "create_lock", staticmethod(create_lock))


def overlaps_from_two_threads(store: LockStore, rounds: int = 20) -> tuple[int, list[str]]:
    inside: Counter[str] = Counter()
    overlaps, errors = [0], []
    barrier = threading.Barrier(2)

    def thread() -> None:
        async def turns() -> None:
            barrier.wait()
            for _ in range(rounds):
                try:
                    async with store.lock("6281200000001", wait_time_in_seconds=0.001):
                        inside["c"] += 1
                        overlaps[0] += inside["c"] > 1
                        await asyncio.sleep(0.002)
                        inside["c"] -= 1
                except Exception as exc:  # noqa: BLE001 - counted, shown on failure
                    errors.append(repr(exc))

        asyncio.run(turns())

    threads = [threading.Thread(target=thread) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return overlaps[0], errors


@pytest.mark.usefixtures("slow_lock_creation")
def test_rasa_s_in_memory_lock_store_lets_two_threads_in_at_once() -> None:
    """Why the thread-safe store exists (if Rasa fixes this, this test says so)."""
    overlaps, _ = overlaps_from_two_threads(InMemoryLockStore())
    assert overlaps > 0


@pytest.mark.usefixtures("slow_lock_creation")
def test_one_turn_at_a_time_across_threads() -> None:
    store = ThreadSafeInMemoryLockStore()
    overlaps, errors = overlaps_from_two_threads(store)
    assert (overlaps, errors) == (0, [])
    assert store.conversation_locks == {}  # every lock cleaned up


def test_callers_only_see_copies() -> None:
    store = ThreadSafeInMemoryLockStore()
    ticket = store.issue_ticket("c")
    seen = store.get_lock("c")
    assert seen is not None and not seen.is_locked(ticket)
    seen.tickets.clear()  # changing a copy changes nothing stored
    assert store.is_someone_waiting("c")
    store.cleanup("c", ticket)
    assert store.get_lock("c") is None


def test_rasa_loads_it_from_endpoints_yml(tmp_path) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("lock_store:\n  type: connectors.lock_store.ThreadSafeInMemoryLockStore\n")
    config = read_endpoint_config(str(endpoints), "lock_store")
    assert isinstance(config, EndpointConfig)
    assert isinstance(LockStore.create(config), ThreadSafeInMemoryLockStore)
