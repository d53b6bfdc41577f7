"""The no-agent notice: a background task of the backend (started in app.main's lifespan).

Every HANDOFF_CHECK_INTERVAL_SECONDS it marks the waiting hand-offs nobody claimed
within the timeout (app/services/handoffs.py, ``mark_due_timeouts``) and tells Rasa for
each: ``{"event": "resume"}``, then the intent ``EXTERNAL_handoff_timeout`` (the bot
offers "keep waiting" or "back to the bot"). When Rasa cannot be told, the mark is
undone and the next round tries again; a failing round is logged, never fatal. Without
RASA_AUTH_TOKEN the task says so once and does nothing.
"""

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.logging import mask_wa_id
from app.services import handoffs
from app.services.rasa_client import RasaClient, RasaUnavailable

log = logging.getLogger("app.jobs.handoff_timeouts")

TIMEOUT_INTENT = "EXTERNAL_handoff_timeout"
SessionProvider = Callable[[], Iterator[Session]]


@contextmanager
def _session(provider: SessionProvider) -> Iterator[Session]:
    sessions = provider()
    try:
        yield next(sessions)
    finally:
        sessions.close()


def _mark(provider: SessionProvider, now: datetime | None) -> list[handoffs.DueTimeout]:
    with _session(provider) as session:
        return handoffs.mark_due_timeouts(session, now=now)


def _settle(provider: SessionProvider, due: handoffs.DueTimeout, told: bool) -> None:
    with _session(provider) as session:
        if told:
            handoffs.timeout_notified(session, due)
        else:
            handoffs.unmark_timeout(session, due)


async def run_once(
    provider: SessionProvider, client: RasaClient, now: datetime | None = None
) -> int:
    """One round; returns how many partners got the notice."""
    told = 0
    for due in await run_in_threadpool(_mark, provider, now):
        try:
            await client.resume_and_trigger(due.wa_id, TIMEOUT_INTENT)
        except RasaUnavailable as exc:
            log.warning(
                "no-agent notice not delivered; retrying next round",
                extra={"handoff_id": due.handoff_id, "reason": exc.reason},
            )
            await run_in_threadpool(_settle, provider, due, False)
            continue
        await run_in_threadpool(_settle, provider, due, True)
        told += 1
        log.info(
            "no-agent notice sent",
            extra={"handoff_id": due.handoff_id, "wa_id": mask_wa_id(due.wa_id)},
        )
    return told


async def run_forever(
    provider: SessionProvider, client_factory: Callable[[], RasaClient], interval: float
) -> None:
    """Until cancelled (the app's shutdown)."""
    said_disabled = False
    while True:
        client = client_factory()
        if not client.configured:
            if not said_disabled:
                log.info("no-agent notices are off: RASA_AUTH_TOKEN is not set")
                said_disabled = True
        else:
            said_disabled = False
            try:
                await run_once(provider, client)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("no-agent check failed; retrying next round")
        await asyncio.sleep(interval)
