"""Typed dependencies: a database session, the authenticated caller and its scopes.

Every API route but ``/health`` (and the OpenAPI pages) declares exactly one scope
dependency, through the aliases at the end (``caller: LedgerReader`` is
``Annotated[Principal, Security(require_scope(Scope.LEDGER_READ), scopes=[...])]``; the
scope also shows in the route's OpenAPI security requirement). Answers:

- no ``Authorization: Bearer <token>``, or a token that is no configured caller's
  secret -> 401 with ``WWW-Authenticate: Bearer``;
- a known caller without the route's scope -> 403 with a ``detail`` naming the scope.

``tests/api/test_authorization.py`` walks every route through ``dependency_scopes``.
"""

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Security, status
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.db import get_session_factory
from app.core.security import Principal, Scope, authenticate
from app.schemas.common import WA_ID_PATTERN

_bearer = HTTPBearer(
    auto_error=False,
    description=(
        "The caller's own secret: SERVICE_TOKEN (action server), ERP_API_KEY (ERP), "
        "ADMIN_API_KEY (admin automation), PAYOUT_CALLBACK_TOKEN (the payout "
        "provider's callbacks) or WHATSAPP_REPORT_TOKEN (the WhatsApp connector's send "
        "reports). Each route names the scope it needs."
    ),
)


def get_db() -> Iterator[Session]:
    with get_session_factory()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def get_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller; 401 when the token is missing or nobody's."""
    principal = authenticate(credentials.credentials if credentials else None, settings)
    if principal is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


class ScopeRequirement:
    """Dependency: the caller, provided it holds ``scope`` (403 otherwise)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __call__(self, principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.allows(self.scope):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"the {principal.name} credential lacks scope {self.scope}",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{self.scope}"'
                },
            )
        return principal

    def __repr__(self) -> str:
        return f"require_scope({self.scope.value!r})"


def require_scope(scope: Scope) -> ScopeRequirement:
    return ScopeRequirement(scope)


def dependency_scopes(dependant: Dependant) -> set[Scope]:
    """The scopes a route requires, read from its dependency tree (``route.dependant``)."""
    found: set[Scope] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        if isinstance(current.call, ScopeRequirement):
            found.add(current.call.scope)
        stack.extend(current.dependencies)
    return found


def _scoped(scope: Scope) -> Any:
    # Security(..., scopes=...) also lists the scope in the route's OpenAPI security
    # requirement: {"HTTPBearer": ["ledger:read"]}.
    return Security(require_scope(scope), scopes=[scope.value])


PartnerReader = Annotated[Principal, _scoped(Scope.PARTNER_READ)]
LedgerReader = Annotated[Principal, _scoped(Scope.LEDGER_READ)]
PartnerActor = Annotated[Principal, _scoped(Scope.PARTNER_ACT)]
PointsAdjuster = Annotated[Principal, _scoped(Scope.POINTS_ADJUST)]
PartnerManager = Annotated[Principal, _scoped(Scope.PARTNER_MANAGE)]
SalesWriter = Annotated[Principal, _scoped(Scope.SALES_WRITE)]
ClaimsReviewer = Annotated[Principal, _scoped(Scope.CLAIMS_REVIEW)]
RewardsManager = Annotated[Principal, _scoped(Scope.REWARDS_MANAGE)]
RedemptionsReader = Annotated[Principal, _scoped(Scope.REDEMPTIONS_READ)]
PayoutsCallback = Annotated[Principal, _scoped(Scope.PAYOUTS_CALLBACK)]
QuizzesReader = Annotated[Principal, _scoped(Scope.QUIZZES_READ)]
NotificationsReader = Annotated[Principal, _scoped(Scope.NOTIFICATIONS_READ)]
NotificationsReporter = Annotated[Principal, _scoped(Scope.NOTIFICATIONS_REPORT)]

WaIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=160,
        pattern=WA_ID_PATTERN,
        description=(
            "WhatsApp id (need not be a phone number): 1-160 characters of "
            "[A-Za-z0-9_.:-], starting and ending with a letter or digit"
        ),
        examples=["6281200000001"],
    ),
]
