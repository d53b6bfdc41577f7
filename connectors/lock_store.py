"""An in-memory Rasa lock store that two threads can share.

WhatsApp turns run on the turn thread (``connectors.turn_runner``) while Rasa's HTTP API
(agent replies, hand-back, proactive notices) runs turns on the server loop. Both take
the conversation lock from the same store. Rasa's ``InMemoryLockStore`` is only safe on
one loop: ``issue_ticket`` (read, add a ticket, save) and ``cleanup`` (finish, check for
waiters, delete) are read-modify-write sequences on one dict and on shared
``TicketLock`` objects, so two threads can both get "ticket 0" of a new lock and run two
turns of one conversation at once, or delete a lock someone still waits on.

Here every operation runs under one ``threading.Lock``, and callers only ever see copies
of the stored ``TicketLock`` (as with Rasa's Redis lock store, which deserialises a
fresh copy on every read), so checking a copy never races a writer.

``endpoints.yml``::

    lock_store:
      type: connectors.lock_store.ThreadSafeInMemoryLockStore
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore


def _copy(lock: TicketLock) -> TicketLock:
    return TicketLock(
        lock.conversation_id, deque(Ticket(t.number, t.expires) for t in lock.tickets)
    )


class ThreadSafeInMemoryLockStore(InMemoryLockStore):
    """``InMemoryLockStore`` whose compound operations are atomic across threads."""

    def __init__(self, endpoint_config: Any = None, **_: Any) -> None:
        # Rasa builds a custom lock store as ``cls(endpoint_config=...)``; nothing to read.
        super().__init__()
        self._mutex = threading.RLock()

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        with self._mutex:
            lock = self.conversation_locks.get(conversation_id)
            return _copy(lock) if lock is not None else None

    def save_lock(self, lock: TicketLock) -> None:
        with self._mutex:
            self.conversation_locks[lock.conversation_id] = _copy(lock)

    def delete_lock(self, conversation_id: str) -> None:
        with self._mutex:
            super().delete_lock(conversation_id)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._mutex:
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex:
            super().update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex:
            super().finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex:
            super().cleanup(conversation_id, ticket_number)

    def is_someone_waiting(self, conversation_id: str) -> bool:
        with self._mutex:
            return super().is_someone_waiting(conversation_id)
