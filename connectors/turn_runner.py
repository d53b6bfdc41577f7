"""Runs Rasa turns on their own event loop, in a thread beside the web server's loop.

A Rasa turn is partly CPU-bound and synchronous (NLU, policies, the SQL tracker store).
On the server's loop, every running turn delays every webhook waiting to be
acknowledged — at 200 requests/s the 200 OK took hundreds of milliseconds. With the
turns on a loop of their own, the server loop only verifies, de-duplicates and queues,
and the GIL's switch interval (5 ms) bounds how long a turn can hold it up.

Rasa's parts a turn touches are safe here: the lock stores only use ``asyncio.sleep``,
the action endpoint opens a fresh HTTP session per call, the tracker stores are
synchronous SQLAlchemy/Redis clients, and the Graph API client keeps one session per
loop (``connectors.graph_client.SharedSession``).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import structlog

logger = structlog.get_logger(__name__)

T = TypeVar("T")

# How long a thread may hold the GIL while another waits for it (Python's default is
# 5 ms). A turn thread doing NLU would otherwise make the server thread wait up to 5 ms
# at every point where it gives the GIL up (each socket read and write of a request).
GIL_SWITCH_INTERVAL = 0.0005


class TurnRunner:
    """Awaitable bridge from the server loop to a dedicated turn loop."""

    def __init__(self, name: str = "whatsapp-turns") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))
                # The model, TensorFlow and Rasa are loaded by now: move their millions
                # of long-lived objects out of the collector's way, so a full collection
                # (which stops every thread) takes milliseconds, not ~0.4 s.
                gc.freeze()
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._serve, args=(loop,), name=self._name, daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the turn loop; cancelling the caller cancels the turn."""
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure_started())
        return await asyncio.wrap_future(future)

    def close(
        self, before_stop: Callable[[], Awaitable[Any]] | None = None, timeout: float = 10.0
    ) -> None:
        """Run ``before_stop`` on the turn loop (e.g. close its HTTP session), then stop it."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if before_stop is not None:
            try:
                asyncio.run_coroutine_threadsafe(before_stop(), loop).result(timeout)
            except Exception:
                logger.warning("whatsapp.turns.close_failed", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
