"""FastAPI application: ``uvicorn app.main:app``. OpenAPI at /docs and /openapi.json."""

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api import errors
from app.api.deps import get_db
from app.api.main import api_router
from app.api.routes import health
from app.core.config import settings
from app.core.logging import configure_logging, mask_path
from app.jobs import rejudge_claims

configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
log = logging.getLogger("app.request")


@asynccontextmanager
async def lifespan(application: FastAPI) -> AsyncIterator[None]:
    # Claims stored but never judged (the process died in between) are judged now; the
    # session comes from the same place requests get theirs.
    provider = application.dependency_overrides.get(get_db, get_db)
    await run_in_threadpool(rejudge_claims.run_at_startup, provider)
    yield


app = FastAPI(
    title=settings.PROJECT_NAME,
    description=(
        "Partners, points ledger and tiers for Mitra. Every route but /health needs "
        "`Authorization: Bearer <secret>` with the caller's own secret: SERVICE_TOKEN "
        "(action server), ERP_API_KEY (ERP), ADMIN_API_KEY (admin automation) or "
        "PAYOUT_CALLBACK_TOKEN (the payout provider's callbacks); each route names the "
        "scope it needs. Unknown or missing secret: 401; a caller without the "
        "scope: 403. Datetimes are UTC with offset; calendar dates are WIB (Asia/Jakarta)."
    ),
    version="0.1.0",
    lifespan=lifespan,
)
errors.install(app)
app.include_router(health.router)
app.include_router(api_router, prefix=settings.API_V1_STR)


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
