"""The support console (issue 20): pages, static assets and the JSON API under /console.

``install(app)`` adds them to the backend with the console's security headers: a strict
Content-Security-Policy (only the console's own scripts and styles), no framing, no
referrer, and ``Cache-Control: no-store`` on everything but the static assets (pages and
answers depend on who is signed in). Validation errors on console routes answer
``{"detail": "<reason>"}`` like every other console error.
"""

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app.console import api, pages

PREFIX = "/console"
STATIC_PATH = "/console/static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def install(app: FastAPI) -> None:
    app.include_router(api.public)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount(STATIC_PATH, StaticFiles(directory=pages.STATIC_DIR), name="console-static")

    @app.middleware("http")
    async def console_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        path = request.url.path
        if is_console_path(path):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            if not path.startswith(STATIC_PATH + "/"):
                response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if not is_console_path(request.url.path):
            return await request_validation_exception_handler(request, exc)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse(
            status_code=422, content={"detail": f"{where}: {first.get('msg', 'invalid')}"}
        )
