"""Domain errors -> HTTP answers, so routers stay thin."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.services.errors import (
    ClaimAlreadyDecided,
    ClaimImageNotFound,
    ClaimNotFound,
    DomainError,
    DuplicateClaim,
    IdempotencyConflict,
    ImageTooLarge,
    InsufficientPoints,
    InvalidClaim,
    InvalidRedemption,
    InvalidReward,
    InvalidTransition,
    PartnerLeft,
    PartnerNotFound,
    PartnerSuspended,
    RedemptionNotFound,
    RedemptionRefused,
    ReservedIdempotencyKey,
    RewardNotFound,
    TiersNotConfigured,
    UnreadableImage,
    UnsupportedImageType,
)
from app.services.questionnaire_errors import STATUS as QUESTIONNAIRE_STATUS

log = logging.getLogger("app.api")

_STATUS: dict[type[DomainError], int] = {
    PartnerNotFound: 404,
    PartnerSuspended: 403,
    PartnerLeft: 403,
    ReservedIdempotencyKey: 422,
    InsufficientPoints: 409,
    IdempotencyConflict: 409,
    TiersNotConfigured: 503,
    ClaimNotFound: 404,
    ClaimImageNotFound: 404,
    InvalidClaim: 422,
    DuplicateClaim: 409,
    ClaimAlreadyDecided: 409,
    ImageTooLarge: 413,
    UnsupportedImageType: 415,
    UnreadableImage: 422,
    RewardNotFound: 404,
    RedemptionNotFound: 404,
    InvalidReward: 422,
    InvalidRedemption: 422,
    RedemptionRefused: 409,
    InvalidTransition: 409,
}
_STATUS.update(QUESTIONNAIRE_STATUS)  # quizzes and surveys (issue 19)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
        if status == 500:
            log.error("domain error", extra={"error": type(exc).__name__, "detail": exc.detail})
        # Some errors say more than ``detail`` (DuplicateClaim: its code and claim_no;
        # RedemptionRefused: its code, points_short and description).
        extra = getattr(exc, "fields", {})
        return JSONResponse(status_code=status, content={"detail": exc.detail, **extra})
