"""Action tests run against a real loyalty backend process (SQLite, demo seed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rasa_sdk import Tracker

from actions import backend_client
from tests.support.demo import ANDI, BUDI, RINA, SARAH, STRANGER  # noqa: F401 (re-exported)
from tests.support.processes import SERVICE_TOKEN, Process, start_backend


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    log_dir = tmp_path_factory.mktemp("backend")
    process = start_backend(log_dir, f"sqlite:///{log_dir / 'mitra.db'}")
    yield process
    process.stop()


@pytest.fixture()
def use_backend(backend: Process, monkeypatch: pytest.MonkeyPatch) -> Iterator[Process]:
    """Point the action server's client at the test backend."""
    monkeypatch.setenv("BACKEND_URL", backend.url)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)
    backend_client.reset_client()
    yield backend
    backend_client.reset_client()


def backend_get(backend: Process, path: str, **params: Any) -> Any:
    response = requests.get(
        f"{backend.url}/api/v1{path}", params=params,
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=5,
    )
    response.raise_for_status()
    return response.json()


def make_tracker(
    sender_id: str,
    intent: str,
    language: str = "id",
    entities: list[dict[str, Any]] | None = None,
    text: str = "",
) -> Tracker:
    return Tracker(
        sender_id=sender_id,
        slots={"language": language, "partner_name": None, "is_registered": None},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.99},
            "entities": entities or [],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )
