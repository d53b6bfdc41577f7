"""Every route of the app, walked from the app itself: who may call it.

The required scope of each route is read from its dependency tree (``dependency_scopes``),
never from a list in this file, so a new route is checked the moment it exists, and a
route without a scope dependency fails ``test_every_route_requires_one_scope``. Only
PUBLIC is exempt, and the support console (``/console...``), whose callers are signed-in
people, not bearer tokens: ``tests/api/test_console_authorization.py`` walks its routes.
"""

import secrets
from dataclasses import dataclass

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.api import deps
from app.api.deps import PartnerReader, dependency_scopes
from app.api.main import api_router
from app.console import is_console_path
from app.core.config import Settings
from app.core.security import CALLERS, Scope
from app.demo_fixtures import BUDI
from app.main import app
from tests.conftest import CREDENTIALS, bearer

# (method, path) that answer without credentials: liveness and the OpenAPI pages.
PUBLIC = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
    }
)
# A valid demo value for every path parameter a route may have.
# ("code" names a reward or a quiz: any value serves, an unknown one is a 404 not a 401/403)
PATH_VALUES = {
    "wa_id": BUDI.wa_id,
    "claim_no": "KLM-000001",
    "code": "VCR-50K",
    "redemption_no": "RDM-000001",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # template, e.g. /api/v1/partners/by-wa/{wa_id}/balance
    scopes: frozenset[Scope] | None  # None: not an APIRoute (no dependency tree)

    @property
    def url(self) -> str:
        return self.path.format(**PATH_VALUES)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations(application: FastAPI) -> list[Operation]:
    """Every (method, path) the app serves, except PUBLIC, with the scopes it requires."""
    found: list[Operation] = []
    for route in iter_route_contexts(application.routes):
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            if (method, route.path_format) in PUBLIC or is_console_path(route.path_format):
                continue
            scopes = None
            if isinstance(route.original_route, APIRoute):
                scopes = frozenset(dependency_scopes(route.dependant))
            found.append(Operation(method, route.path_format, scopes))
    return found


def unguarded(application: FastAPI) -> list[str]:
    """Operations that do not require exactly one scope."""
    return [str(op) for op in operations(application) if not op.scopes or len(op.scopes) != 1]


OPERATIONS = operations(app)


def _scope(op: Operation) -> Scope:
    assert op.scopes and len(op.scopes) == 1, f"{op} requires {op.scopes}"
    return next(iter(op.scopes))


def test_the_walk_sees_the_whole_api() -> None:
    # Guard against a walk that silently finds nothing (FastAPI >= 0.137 nests routers).
    seen = {str(op) for op in OPERATIONS}
    assert {
        "GET /api/v1/partners/by-wa/{wa_id}",
        "GET /api/v1/partners/by-wa/{wa_id}/balance",
        "PUT /api/v1/partners/by-wa/{wa_id}/language",
        "GET /api/v1/tiers",
        "POST /api/v1/admin/partners/by-wa/{wa_id}/points/earn",
        "POST /api/v1/admin/partners/by-wa/{wa_id}/points/spend",
        "GET /api/v1/partners/by-wa/{wa_id}/rewards",
        "POST /api/v1/partners/by-wa/{wa_id}/redemptions",
        "POST /api/v1/admin/rewards",
        "PATCH /api/v1/admin/redemptions/{redemption_no}",
        "POST /api/v1/integrations/payouts/fake/callback",
        "GET /api/v1/support/availability",
        "POST /api/v1/partners/by-wa/{wa_id}/handoffs",
        "POST /api/v1/partners/by-wa/{wa_id}/handoffs/current/cancel",
    } <= seen
    assert len(OPERATIONS) >= 10


def test_every_route_requires_one_scope() -> None:
    assert unguarded(app) == []


def test_a_new_route_without_auth_is_caught() -> None:
    """The check above fails for a route that forgets its scope dependency."""
    extra = APIRouter()

    @extra.get("/partners/by-wa/{wa_id}/secrets")
    def leaky(wa_id: str) -> dict:  # pragma: no cover - never called
        return {}

    @extra.get("/guarded")
    def guarded(_caller: PartnerReader) -> dict:  # pragma: no cover
        return {}

    probe = FastAPI()
    probe.include_router(api_router, prefix="/api/v1")
    probe.include_router(extra, prefix="/api/v1")
    assert unguarded(probe) == ["GET /api/v1/partners/by-wa/{wa_id}/secrets"]


def test_every_path_parameter_has_a_demo_value() -> None:
    for op in OPERATIONS:
        op.url  # noqa: B018 - raises KeyError for a parameter PATH_VALUES lacks


def test_the_scope_table() -> None:
    """What each caller may do, as the design says (docs/security.md is built from it)."""
    table = {caller.name: {str(s) for s in caller.scopes} for caller in CALLERS}
    assert table == {
        "service": {"partner:read", "ledger:read", "partner:act"},
        "erp": {"partner:read", "ledger:read", "sales:write", "redemptions:read"},
        "admin": {
            "points:adjust",
            "partner:manage",
            "claims:review",
            "rewards:manage",
            "redemptions:read",
            "quizzes:read",
            "notifications:read",
        },
        "payouts": {"payouts:callback"},
        "whatsapp": {"notifications:report"},
    }
    # The bot never mints or adjusts points, nor manages rewards.
    assert not any("points" in scope or "rewards" in scope for scope in table["service"])


def test_openapi_names_each_routes_scope(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for op in OPERATIONS:
        operation = spec["paths"][op.path][op.method.lower()]
        assert operation["security"] == [{"HTTPBearer": [str(_scope(op))]}], op


BAD_HEADERS = {
    "missing": {},
    "wrong": {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"},
    "no-scheme": {"Authorization": CREDENTIALS["SERVICE_TOKEN"]},
    "basic": {"Authorization": "Basic ZGVtbzpkZW1v"},
    "empty": {"Authorization": "Bearer "},
    "prefix-of-a-key": {"Authorization": f"Bearer {CREDENTIALS['ADMIN_API_KEY'][:-1]}"},
}


@pytest.mark.parametrize("op", OPERATIONS, ids=str)
def test_unknown_callers_get_401(client: TestClient, op: Operation) -> None:
    for name, headers in BAD_HEADERS.items():
        response = client.request(op.method, op.url, json={}, headers=headers)
        assert response.status_code == 401, (name, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json() == {"detail": "missing or invalid credentials"}


@pytest.mark.parametrize("op", OPERATIONS, ids=str)
def test_callers_without_the_scope_get_403(client: TestClient, op: Operation) -> None:
    scope = _scope(op)
    for caller in CALLERS:
        response = client.request(op.method, op.url, json={}, headers=bearer(caller.secret_var))
        if scope in caller.scopes:
            assert response.status_code not in (401, 403), (caller.name, response.text)
        else:
            assert response.status_code == 403, (caller.name, response.text)
            assert response.json() == {
                "detail": f"the {caller.name} credential lacks scope {scope}"
            }


def test_a_caller_without_a_secret_is_disabled(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Development without ADMIN_API_KEY: nobody is the admin, not even with the old key."""
    monkeypatch.setattr(
        deps,
        "settings",
        Settings(
            APP_ENV="development",
            SERVICE_TOKEN=CREDENTIALS["SERVICE_TOKEN"],
            ERP_API_KEY=CREDENTIALS["ERP_API_KEY"],
            ADMIN_API_KEY="  ",
            PAYOUT_CALLBACK_TOKEN=CREDENTIALS["PAYOUT_CALLBACK_TOKEN"],
        ),
    )
    earn = f"/api/v1/admin/partners/by-wa/{BUDI.wa_id}/points/earn"
    for headers in ({}, bearer("ADMIN_API_KEY"), {"Authorization": "Bearer "}):
        assert client.post(earn, json={}, headers=headers).status_code == 401
    assert client.post(earn, json={}, headers=bearer("SERVICE_TOKEN")).status_code == 403
    balance = f"/api/v1/partners/by-wa/{BUDI.wa_id}/balance"
    assert client.get(balance, headers=bearer("SERVICE_TOKEN")).status_code == 404  # no seed


def test_public_routes_need_nothing(client: TestClient) -> None:
    for method, path in PUBLIC:
        assert client.request(method, path).status_code == 200, path
