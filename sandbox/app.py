"""Assemble the sandbox application: fake Graph API + partner simulator + web phone."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from sandbox import control, graph
from sandbox.logs import log_event, mask_text
from sandbox.settings import Settings
from sandbox.state import STATE, SandboxState

# Documents may be up to 100 MB on WhatsApp.
CLIENT_MAX_SIZE = 110 * 1024 * 1024


@web.middleware
async def request_log(request: web.Request, handler):
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if request.body_exists and not request.content.at_eof():
            # Answered without reading the body (401, 404, ...): drain it before replying,
            # or a client still uploading stalls and the server lingers on the connection.
            await request.release()
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log_event(
            "http",
            logging.DEBUG,
            method=request.method,
            path=mask_text(request.path_qs),
            status=status,
            ms=(time.perf_counter() - started) * 1000,
        )


def create_app(settings: Settings | None = None) -> web.Application:
    """The sandbox as an aiohttp application (tests run it in-process on a free port)."""
    settings = settings or Settings.from_env()
    state = SandboxState(settings)
    app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=[request_log])
    app[STATE] = state
    control.add_routes(app)
    graph.add_routes(app)
    app.router.add_static("/static/", control.STATIC_DIR, show_index=False)

    async def on_startup(_: web.Application) -> None:
        assert state.poster is not None
        await state.poster.start()
        log_event(
            "sandbox.started",
            webhook_url=settings.webhook_url,
            public_url=settings.public_url,
            phone_number_id=settings.phone_number_id,
            api_version=settings.api_version,
            statuses=settings.statuses,
        )

    async def on_cleanup(_: web.Application) -> None:
        await state.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
