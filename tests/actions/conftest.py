"""Action tests run against a real loyalty backend process (SQLite, demo seed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from rasa_sdk import Tracker

from actions import backend_client
from actions.claims import ActionClaimStatus
from actions.handoff import (
    ActionHandoffBackToBot,
    ActionHandoffKeepWaiting,
    ActionHandoffLeaveMessage,
    ActionRequestHandoff,
)
from actions.points import (
    ActionCheckBalance,
    ActionExpiringPoints,
    ActionPointsHistory,
    ActionTierStatus,
)
from actions.quizzes import (
    ActionQuizRecord,
    ActionResumeQuestionnaire,
    ActionStartQuiz,
    ActionStartSurvey,
)
from actions.rewards import (
    ActionBrowseRewards,
    ActionMoreRewards,
    ActionRedeemReward,
    ActionRedemptionStatus,
)
from actions.session import ActionGreet
from tests.support.demo import ANDI, BUDI, RINA, SARAH, STRANGER  # noqa: F401 (re-exported)
from tests.support.processes import SERVICE_TOKEN, Process, start_backend

# Every action built on PartnerAction (same error handling).
PARTNER_ACTIONS = [
    ActionCheckBalance, ActionTierStatus, ActionPointsHistory, ActionExpiringPoints, ActionGreet,
    ActionClaimStatus, ActionBrowseRewards, ActionMoreRewards, ActionRedeemReward,
    ActionRedemptionStatus,
    ActionStartQuiz, ActionStartSurvey, ActionResumeQuestionnaire, ActionQuizRecord,
    ActionRequestHandoff, ActionHandoffLeaveMessage, ActionHandoffKeepWaiting,
    ActionHandoffBackToBot,
]

# The rewards tests' own backend also takes admin calls (points, rewards, fulfilment).
ADMIN_API_KEY = "test-admin-api-key"


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


@pytest.fixture(scope="module")
def rewards_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """A backend of their own for the reward tests: they spend points and stock, and
    (as admin) add points and rewards, which the other tests must not see."""
    log_dir = tmp_path_factory.mktemp("rewards-backend")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ADMIN_API_KEY", ADMIN_API_KEY)  # the process's environment
        process = start_backend(log_dir, f"sqlite:///{log_dir / 'mitra.db'}")
    yield process
    process.stop()


@pytest.fixture()
def use_rewards_backend(
    rewards_backend: Process, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Process]:
    monkeypatch.setenv("BACKEND_URL", rewards_backend.url)
    monkeypatch.setenv("SERVICE_TOKEN", SERVICE_TOKEN)
    backend_client.reset_client()
    yield rewards_backend
    backend_client.reset_client()


def backend_call(
    backend: Process, method: str, path: str, body: Any = None, token: str = SERVICE_TOKEN,
) -> requests.Response:
    """Any call to ``/api/v1{path}``; ``token=ADMIN_API_KEY`` for the admin routes."""
    return requests.request(
        method, f"{backend.url}/api/v1{path}", json=body,
        headers={"Authorization": f"Bearer {token}"}, timeout=10,
    )


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


def action_call(sender: str, action: str = "action_check_balance") -> dict[str, Any]:
    """The body Rasa POSTs to the action server's /webhook."""
    return {
        "next_action": action,
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"language": "id"},
            "latest_message": {
                "text": "english",
                "intent": {"name": "change_language", "confidence": 0.99},
                "entities": [{"entity": "language", "value": "en"}],
            },
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }
