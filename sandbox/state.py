"""What the request handlers share: settings, store, webhook poster, background tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field

from aiohttp import web

from sandbox.settings import Settings
from sandbox.store import Store
from sandbox.webhook import WebhookPoster


@dataclass
class SandboxState:
    settings: Settings
    store: Store = field(default_factory=Store)
    poster: WebhookPoster | None = None
    tasks: set[asyncio.Task] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.poster is None:
            self.poster = WebhookPoster(self.settings.webhook_timeout_s)

    def spawn(self, coro: Coroutine) -> asyncio.Task:
        """Run ``coro`` in the background; keep a reference so it is not garbage-collected."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        assert self.poster is not None
        await self.poster.close()


STATE: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)


def state_of(request: web.Request) -> SandboxState:
    return request.app[STATE]
