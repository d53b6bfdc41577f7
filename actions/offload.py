"""Run blocking backend calls off rasa-sdk's event loop.

The action server has one event loop for every conversation. The backend client is
synchronous (``requests``), so each call runs in a bounded pool of worker threads:
one partner waiting on a slow backend never holds up the others.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

# Backend calls in flight at once; the client's connection pool has the same size.
WORKER_THREADS = 32

T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="backend-call")


async def in_worker_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` in a worker thread, awaited from the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, functools.partial(func, *args, **kwargs))
