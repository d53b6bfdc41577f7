"""Who may call the action server: only Rasa, which sends ``ACTION_SERVER_TOKEN``.

The action server holds the backend's service token, so an open ``/webhook`` would let
anyone read any partner's points or change their settings by naming a WhatsApp id.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

# Load balancers probe this; it answers {"status": "ok"} and nothing else.
OPEN_PATHS = frozenset({"/health"})

Middleware = Callable[[Request], Awaitable[HTTPResponse | None]]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def is_authorised(header: str | None, expected: str) -> bool:
    token = bearer_token(header)
    # Bytes, so a non-ASCII header is a plain mismatch, and constant time either way.
    return token is not None and hmac.compare_digest(
        token.encode("utf-8", "surrogateescape"), expected.encode("utf-8")
    )


def _refuse(reason: str) -> HTTPResponse:
    return response.json(
        {"error": "unauthorized", "reason": reason},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="mitra-actions"'},
    )


def require_token(expected: str) -> Middleware:
    """A request middleware refusing every path but :data:`OPEN_PATHS` without the token."""

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        header = request.headers.get("Authorization")
        if header is None:
            return _refuse("missing Authorization: Bearer <ACTION_SERVER_TOKEN>")
        if not is_authorised(header, expected):
            return _refuse("invalid token")
        return None

    return check


def protect(app: Sanic, expected: str) -> None:
    """Check the token on every request (``/health`` aside)."""
    app.register_middleware(require_token(expected), "request")
