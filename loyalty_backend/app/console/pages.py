"""The support console's pages: ``/console/login``, ``/console`` (the queue) and
``/console/chats/{handoff_id}``. The HTML and JavaScript are static files
(``app/console/static``); they talk to ``/console/api``. Without a live session the queue
and chat pages redirect (303) to the login page; the login page and the static assets
hold no data and are public.
"""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from app.api.deps import SessionDep
from app.console.api import signed_in

STATIC_DIR = Path(__file__).resolve().parent / "static"
LOGIN_PATH = "/console/login"

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html")


def _signed_in_page(name: str, request: Request, session: SessionDep) -> Response:
    if signed_in(session, request) is None:
        return RedirectResponse(LOGIN_PATH, status_code=303)
    return _page(name)


@router.get(LOGIN_PATH)
def login_page() -> Response:
    return _page("login.html")


@router.get("/console")
def queue_page(request: Request, session: SessionDep) -> Response:
    return _signed_in_page("index.html", request, session)


@router.get("/console/chats/{handoff_id}")
def chat_page(handoff_id: int, request: Request, session: SessionDep) -> Response:
    return _signed_in_page("chat.html", request, session)
