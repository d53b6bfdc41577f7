"""Typed dependencies: a database session and the service-token check."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.db import get_session_factory
from app.core.security import service_token_matches
from app.schemas.common import WA_ID_PATTERN

_bearer = HTTPBearer(auto_error=False, description="SERVICE_TOKEN of the action server")


def get_db() -> Iterator[Session]:
    with get_session_factory()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def require_service_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """401 unless ``Authorization: Bearer <SERVICE_TOKEN>``; returns the audit actor."""
    if credentials is None or not service_token_matches(
        credentials.credentials, settings.SERVICE_TOKEN
    ):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid service token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "service"


ServiceAuthDep = Annotated[str, Depends(require_service_token)]

WaIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=160,
        pattern=WA_ID_PATTERN,
        description="WhatsApp id (need not be a phone number): 1-160 of [A-Za-z0-9_.:-]",
        examples=["6281200000001"],
    ),
]
