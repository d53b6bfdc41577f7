"""The action server process: only Rasa (holding ACTION_SERVER_TOKEN) may run actions,
it listens on loopback, and it refuses to start with missing or unfit secrets."""

from __future__ import annotations

import secrets
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.actions.conftest import BUDI, RINA, action_call
from tests.actions.fake_backend import FakeBackend, fake_backend
from tests.support.processes import (
    ACTION_SERVER_TOKEN,
    ROOT,
    SERVICE_TOKEN,
    VENV_BIN,
    Process,
    base_env,
    free_port,
    start_action_server,
    write_endpoints,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeBackend, Process]]:
    with fake_backend() as backend:
        process = start_action_server(tmp_path_factory.mktemp("actions"), backend.url)
        try:
            yield backend, process
        finally:
            process.stop()


BAD_AUTHORIZATION = [
    None,
    "Bearer wrong-token",
    f"Bearer {ACTION_SERVER_TOKEN}x",
    f"Bearer {ACTION_SERVER_TOKEN[:-1]}",
    ACTION_SERVER_TOKEN,  # no scheme
    f"Basic {ACTION_SERVER_TOKEN}",
    "Bearer ",
    "Bearer tökén-ünïcode",  # latin-1: compare as bytes, never a 500
]


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION)
@pytest.mark.parametrize("action", ["action_check_balance", "action_change_language"])
def test_calls_without_the_token_are_refused_before_the_backend(served, authorization, action):
    backend, process = served
    backend.seen.clear()
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = requests.post(
        f"{process.url}/webhook", json=action_call(BUDI, action), headers=headers, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.json()["reason"]
    assert "Bearer" in response.headers.get("WWW-Authenticate", "")
    assert BUDI not in response.text
    assert backend.seen == []


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token"])
def test_the_action_list_is_not_public_either(served, authorization):
    _, process = served
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = requests.get(f"{process.url}/actions", headers=headers, timeout=10)
    assert response.status_code == 401
    assert "action_" not in response.text


def test_rasa_with_the_token_runs_actions(served):
    backend, process = served
    backend.seen.clear()
    headers = {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}"}
    response = requests.post(
        f"{process.url}/webhook", json=action_call(RINA), headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    assert [r["response"] for r in response.json()["responses"]] == ["utter_balance"]
    assert [seen.path for seen in backend.seen] == [f"/api/v1/partners/by-wa/{RINA}/balance"]
    assert backend.seen[0].authorization == f"Bearer {SERVICE_TOKEN}"

    listed = requests.get(f"{process.url}/actions", headers=headers, timeout=10)
    assert {"name": "action_check_balance"} in listed.json()


async def test_rasa_sends_the_token_configured_in_the_endpoints_file(
    served, tmp_path, monkeypatch
):
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import read_endpoint_config

    _, process = served
    endpoints = write_endpoints(tmp_path / "endpoints.yml", process.url, "  type: in_memory\n")
    monkeypatch.delenv("ACTION_SERVER_TOKEN", raising=False)
    with pytest.raises(RasaException, match="ACTION_SERVER_TOKEN"):
        read_endpoint_config(str(endpoints), "action_endpoint")  # Rasa would not start

    monkeypatch.setenv("ACTION_SERVER_TOKEN", ACTION_SERVER_TOKEN)
    endpoint = read_endpoint_config(str(endpoints), "action_endpoint")
    # What Rasa's RemoteAction does for every custom action.
    result = await endpoint.request(json=action_call(RINA), method="post", timeout=10)
    assert [r["response"] for r in result["responses"]] == ["utter_balance"]


def test_health_stays_open_and_says_nothing_more(served):
    _, process = served
    response = requests.get(f"{process.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_it_listens_on_loopback_only(served):
    _, process = served
    port = int(process.url.rsplit(":", 1)[1])
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else

    address = _non_loopback_address()
    if address:
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
            pass


def _start(env_changes: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = base_env(BACKEND_URL=f"http://127.0.0.1:{free_port()}")
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [str(VENV_BIN / "python"), "-m", "actions.server", "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
    )


STRONG = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    ("variable", "env_changes"),
    [
        ("ACTION_SERVER_TOKEN", {"ACTION_SERVER_TOKEN": None}),
        ("ACTION_SERVER_TOKEN", {"ACTION_SERVER_TOKEN": "   "}),
        ("SERVICE_TOKEN", {"SERVICE_TOKEN": None}),
        ("ACTION_SERVER_TOKEN", {"APP_ENV": "production", "SERVICE_TOKEN": STRONG,
                                 "ACTION_SERVER_TOKEN": "demo-action-server-token"}),
        ("ACTION_SERVER_TOKEN", {"APP_ENV": "production", "SERVICE_TOKEN": STRONG,
                                 "ACTION_SERVER_TOKEN": "Xq7r-short-but-random"}),
        ("SERVICE_TOKEN", {"APP_ENV": "production", "ACTION_SERVER_TOKEN": STRONG,
                           "SERVICE_TOKEN": "demo-service-token"}),
        ("SERVICE_TOKEN", {"WHATSAPP_API_BASE_URL": "https://graph.facebook.com",
                           "ACTION_SERVER_TOKEN": STRONG, "SERVICE_TOKEN": "short"}),
    ],
)
def test_it_refuses_to_start_with_a_missing_or_unfit_secret(variable, env_changes):
    result = _start(env_changes)
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_production_starts_with_strong_secrets(tmp_path):
    strong = {"APP_ENV": "production", "ACTION_SERVER_TOKEN": STRONG,
              "SERVICE_TOKEN": secrets.token_urlsafe(32)}
    process = start_action_server(tmp_path, f"http://127.0.0.1:{free_port()}", extra_env=strong)
    try:
        refused = requests.post(f"{process.url}/webhook", json=action_call(BUDI), timeout=10)
        assert refused.status_code == 401
    finally:
        process.stop()
