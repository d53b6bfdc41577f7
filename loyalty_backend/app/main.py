"""FastAPI application: ``uvicorn app.main:app``. OpenAPI at /docs and /openapi.json."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app import console
from app.api import errors
from app.api.deps import get_db
from app.api.main import api_router
from app.api.routes import health
from app.core.config import settings
from app.core.logging import configure_logging, mask_path
from app.jobs import handoff_timeouts, rejudge_claims
from app.services.console_auth import ConsoleAuthError
from app.services.errors import DomainError
from app.services.handoffs import HandoffError
from app.services.rasa_client import RasaUnavailable, get_rasa_client

configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
log = logging.getLogger("app.request")


@asynccontextmanager
async def lifespan(application: FastAPI) -> AsyncIterator[None]:
    # Claims stored but never judged (the process died in between) are judged now; the
    # session comes from the same place requests get theirs.
    provider = application.dependency_overrides.get(get_db, get_db)
    await run_in_threadpool(rejudge_claims.run_at_startup, provider)
    # The no-agent notice for hand-offs nobody claimed in time (issue 20); it does nothing
    # without RASA_AUTH_TOKEN and stops with the app.
    notices = asyncio.create_task(
        handoff_timeouts.run_forever(
            provider, get_rasa_client, settings.HANDOFF_CHECK_INTERVAL_SECONDS
        ),
        name="handoff-timeouts",
    )
    try:
        yield
    finally:
        notices.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await notices


app = FastAPI(
    title=settings.PROJECT_NAME,
    description=(
        "Partners, points ledger and tiers for Mitra. Every route but /health needs "
        "`Authorization: Bearer <secret>` with the caller's own secret: SERVICE_TOKEN "
        "(action server), ERP_API_KEY (ERP), ADMIN_API_KEY (admin automation), "
        "PAYOUT_CALLBACK_TOKEN (the payout provider's callbacks) or WHATSAPP_REPORT_TOKEN "
        "(the WhatsApp connector's notice reports); each route names the "
        "scope it needs. Unknown or missing secret: 401; a caller without the "
        "scope: 403. Datetimes are UTC with offset; calendar dates are WIB (Asia/Jakarta)."
    ),
    version="0.1.0",
    lifespan=lifespan,
)
errors.install(app)
app.include_router(health.router)
app.include_router(api_router, prefix=settings.API_V1_STR)
console.install(app)


async def _status_error(_request: Request, exc: Exception) -> JSONResponse:
    """Hand-off, console sign-in and Rasa errors carry their own status (409, 423, 503...)."""
    assert isinstance(exc, DomainError)
    return JSONResponse(
        status_code=getattr(exc, "status_code", 409), content={"detail": exc.detail}
    )


for _error in (HandoffError, ConsoleAuthError, RasaUnavailable):
    app.add_exception_handler(_error, _status_error)


@app.middleware("http")
async def log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    log.info(
        "request",
        extra={
            "method": request.method,
            "path": mask_path(request.url.path),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return response
