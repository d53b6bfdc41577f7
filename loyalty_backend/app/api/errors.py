"""Domain errors -> HTTP answers, so routers stay thin."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.services.errors import (
    DomainError,
    IdempotencyConflict,
    InsufficientPoints,
    PartnerLeft,
    PartnerNotFound,
    PartnerSuspended,
    ReservedIdempotencyKey,
    TiersNotConfigured,
)

log = logging.getLogger("app.api")

_STATUS: dict[type[DomainError], int] = {
    PartnerNotFound: 404,
    PartnerSuspended: 403,
    PartnerLeft: 403,
    ReservedIdempotencyKey: 422,
    InsufficientPoints: 409,
    IdempotencyConflict: 409,
    TiersNotConfigured: 503,
}


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
        if status == 500:
            log.error("domain error", extra={"error": type(exc).__name__, "detail": exc.detail})
        return JSONResponse(status_code=status, content={"detail": exc.detail})
