"""A fake Rasa for the notifier (the hand-off tests' fake, on a real loopback port, plus
per-partner trackers, request times and a settable delay), and a way to run the notifier
until something holds."""

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.clock import utcnow
from app.models import Notification, Partner
from app.notifier.loop import Notifier, NotifierConfig
from app.notifier.outbox import Outbox, SqlOutbox
from app.services import notifications
from app.services.rasa_client import RasaClient
from tests.handoff_utils import RASA_TOKEN, FakeRasa, _handler


@dataclass
class Trigger:
    at: float  # time.monotonic() when the fake received it
    wa_id: str
    query: dict[str, str]
    body: dict[str, Any]

    @property
    def notice(self) -> dict[str, Any]:
        return json.loads(self.body["entities"]["notice"])


@dataclass
class NoticeRasa(FakeRasa):
    """``trackers``: wa_id -> events its tracker answers (default none); ``delay``:
    seconds each trigger takes (a busy turn)."""

    trackers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    paused: set[str] = field(default_factory=set)  # conversations with an agent
    triggers: list[Trigger] = field(default_factory=list)
    tracker_reads: list[str] = field(default_factory=list)
    delay: float = 0.0

    def answer(self, method: str, raw_path: str, body: Any) -> tuple[int, Any]:
        received = time.monotonic()
        parts = urlsplit(raw_path)
        wa_id = unquote(parts.path.split("/")[2]) if parts.path.count("/") >= 3 else ""
        status, payload = super().answer(method, raw_path, body)
        if method == "GET" and parts.path.endswith("/tracker"):
            with self.lock:
                self.tracker_reads.append(wa_id)
            if status == 200:
                payload = {"sender_id": wa_id, "events": self.trackers.get(wa_id, []),
                           "paused": wa_id in self.paused}
        if method == "POST" and parts.path.endswith("/trigger_intent"):
            if self.delay:
                time.sleep(self.delay)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with self.lock:
                self.triggers.append(Trigger(received, wa_id, query, body))
            if status == 200:  # Rasa's answer: the state after the turn, no events
                payload = {"tracker": {"sender_id": wa_id, "paused": wa_id in self.paused}}
        return status, payload

    def triggers_ok(self) -> list[Trigger]:
        return [t for t in self.triggers if t.query.get("token") == RASA_TOKEN]


@contextmanager
def fake_rasa() -> Iterator[NoticeRasa]:
    fake = NoticeRasa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def client(url: str, timeout: float = 5.0) -> RasaClient:
    return RasaClient(url, RASA_TOKEN, timeout=timeout)


def config(**overrides: Any) -> NotifierConfig:
    """Fast settings for tests: short intervals, a lease that expires soon enough."""
    values: dict[str, Any] = {
        "max_per_second": 200.0,
        "concurrency": 4,
        "batch": 50,
        "lease_seconds": 30.0,
        "idle_seconds": 0.05,
        "partner_interval": 0.2,
        "backoff_base": 0.2,
        "backoff_max": 2.0,
        "lease_margin": 5.0,
    }
    values.update(overrides)
    return NotifierConfig(**values)


def user_event(age: timedelta, now: datetime | None = None) -> dict[str, Any]:
    moment = (now or utcnow()) - age
    return {"event": "user", "timestamp": moment.timestamp(), "text": "halo"}


def enqueue(
    session: Session,
    partner: Partner,
    kind: str = "points_credited",
    params: dict[str, Any] | None = None,
    *,
    key: str,
    group_key: str | None = None,
) -> None:
    notifications.enqueue(
        session, partner, kind, params if params is not None else PARAMS[kind],
        dedupe_key=key, group_key=group_key,
    )  # fmt: skip
    session.commit()


PARAMS: dict[str, dict[str, Any]] = {
    "claim_approved": {"claim_no": "CLM-000123", "points": 1250},
    "points_credited": {
        "points": 1250, "balance": 4800, "source_id": "klaim CLM-000123",
        "source_en": "claim CLM-000123",
    },
    "tier_up": {"tier": "Gold"},
    "redemption_shipped": {
        "redemption_no": "RDM-000007", "reward_id": "Payung", "reward_en": "Umbrella",
        "tracking": "JNE123",
    },
}  # fmt: skip


def rows(factory: sessionmaker[Session]) -> list[Notification]:
    with factory() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def run_notifier(
    notifier: Notifier,
    until: Callable[[], bool],
    *,
    timeout: float = 20.0,
    after: Callable[[], None] | None = None,
) -> None:
    """Run ``notifier`` until ``until()`` holds (checked in a thread), then stop it
    gracefully; fails if that takes longer than ``timeout``."""

    async def main() -> None:
        stop = asyncio.Event()
        async with notifier.client:
            task = asyncio.create_task(notifier.run(stop))
            deadline = time.monotonic() + timeout
            try:
                while not await asyncio.to_thread(until):
                    if task.done():
                        task.result()
                        raise AssertionError("the notifier stopped by itself")
                    if time.monotonic() > deadline:
                        raise AssertionError(f"condition not met within {timeout}s")
                    await asyncio.sleep(0.05)
                if after is not None:
                    await asyncio.to_thread(after)
            finally:
                stop.set()
                await asyncio.wait_for(task, timeout=30)

    asyncio.run(main())


def notifier_for(
    factory: sessionmaker[Session],
    url: str,
    outbox: Outbox | None = None,
    clock: Callable[[], datetime] = utcnow,
    **overrides: Any,
) -> Notifier:
    return Notifier(outbox or SqlOutbox(factory), client(url), config(**overrides), clock=clock)
