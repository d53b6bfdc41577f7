"""`make run` as a newcomer runs it: it creates `.env` with fresh secrets, respects the
caller's environment, and starts a stack in which only loopback ports listen, the action
server answers only Rasa, Rasa's HTTP API answers only its token and the REST channel is
absent, the console's demo logins work — and a partner still gets answers through the
signed webhook."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from dotenv import dotenv_values

from mitra_config.dotenv import GENERATED_SECRETS
from mitra_config.secrets import MIN_SECRET_BYTES, is_demo_value
from tests.e2e.conftest import inbound, message_text, wait_for_messages
from tests.support.demo import BUDI
from tests.support.processes import ROOT, Process, free_port

READY_LINE = "Mitra is running"


@dataclass
class MakeRun:
    popen: subprocess.Popen
    env_file: Path
    database: Path
    ports: dict[str, int]
    output: Path

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                addresses.add(address)
    return addresses


def stop_group(popen: subprocess.Popen) -> None:
    """Ctrl-C to `make`'s process group, as a user would; SIGKILL if it hangs."""
    if popen.poll() is not None:
        return
    os.killpg(popen.pid, signal.SIGINT)
    try:
        popen.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    folder = tmp_path_factory.mktemp("make-run")
    ports = {name: free_port() for name in ("backend", "actions", "rasa", "sandbox", "gateway")}
    database = folder / "mitra.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "SANDBOX_"))},
        "MITRA_ENV_FILE": str(folder / ".env"),
        "MITRA_LOG_DIR": str(folder / "logs"),
        "DATABASE_URL": f"sqlite:///{database}",  # the caller's value must win
        "RASA_TRACKER_DB": str(folder / "tracker.db"),
        "WHATSAPP_QUEUE_PATH": str(folder / "inbound.db"),
        "BACKEND_PORT": str(ports["backend"]),
        "ACTIONS_PORT": str(ports["actions"]),
        "RASA_PORT": str(ports["rasa"]),
        "SANDBOX_PORT": str(ports["sandbox"]),
        "WHATSAPP_GATEWAY_PORT": str(ports["gateway"]),
    }
    for name in GENERATED_SECRETS:
        env.pop(name, None)
    output = folder / "make-run.log"
    popen = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=output.open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    run = MakeRun(popen, folder / ".env", database, ports, output)
    try:
        deadline = time.monotonic() + 600
        while READY_LINE not in output.read_text(errors="replace"):
            if popen.poll() is not None or time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                    for log in sorted((folder / "logs").glob("*.log"))
                )
                pytest.fail(f"make run did not come up:\n{output.read_text()[-4000:]}\n{logs}")
            time.sleep(1)
        yield run
    finally:
        stop_group(popen)


def test_first_run_writes_fresh_private_secrets(make_run: MakeRun) -> None:
    values = dotenv_values(make_run.env_file)
    for name in GENERATED_SECRETS:
        secret = values.get(name) or ""
        assert len(secret.encode()) >= MIN_SECRET_BYTES and not is_demo_value(secret), name
    assert make_run.env_file.stat().st_mode & 0o077 == 0


def test_the_callers_database_url_is_used(make_run: MakeRun) -> None:
    assert make_run.database.is_file() and make_run.database.stat().st_size > 0


def test_every_port_listens_on_loopback_only(make_run: MakeRun) -> None:
    for name, port in make_run.ports.items():
        addresses = listening_addresses(port)
        assert addresses, f"{name} is not listening on {port}"
        assert addresses <= LOOPBACK, f"{name} listens on {addresses}"


def test_action_server_refuses_callers_other_than_rasa(make_run: MakeRun) -> None:
    call = {"next_action": "action_check_balance", "sender_id": BUDI,
            "tracker": {"sender_id": BUDI, "slots": {}, "latest_message": {},
                        "events": [], "paused": False, "latest_input_channel": None,
                        "active_loop": {}, "latest_action_name": None},
            "domain": {}, "version": "3.6.2"}
    for headers in ({}, {"Authorization": "Bearer demo-rasa-token"}):
        response = requests.post(f"{make_run.url('actions')}/webhook", json=call,
                                 headers=headers, timeout=10)
        assert response.status_code == 401, response.text
        assert "available_points" not in response.text and "poin" not in response.text


def test_rasa_http_api_needs_its_token_and_the_rest_channel_is_absent(
    make_run: MakeRun,
) -> None:
    # The support console's backend posts agents' replies through Rasa's HTTP API: it is
    # served (on loopback, above) but only to the generated RASA_AUTH_TOKEN.
    rasa = make_run.url("rasa")
    token = dotenv_values(make_run.env_file)["RASA_AUTH_TOKEN"]
    for params in ({}, {"token": "demo-rasa-token"}, {"token": token[:-1]}):
        tracker = requests.get(f"{rasa}/conversations/{BUDI}/tracker", params=params, timeout=10)
        assert tracker.status_code == 401, (params, tracker.status_code)
    status = requests.get(f"{rasa}/status", params={"token": token}, timeout=10)
    assert status.status_code == 200
    rest = requests.post(f"{rasa}/webhooks/rest/webhook",
                         json={"sender": BUDI, "message": "cek poin"}, timeout=10)
    assert rest.status_code == 404


def test_the_console_and_the_demo_logins_are_printed(make_run: MakeRun) -> None:
    values = dotenv_values(make_run.env_file)
    printed = make_run.output.read_text(errors="replace")
    assert f"{make_run.url('backend')}/console" in printed
    assert values["DEMO_AGENT_EMAIL"] in printed and values["DEMO_AGENT_PASSWORD"] in printed
    login = requests.post(f"{make_run.url('backend')}/console/api/login", timeout=10, json={
        "email": values["DEMO_AGENT_EMAIL"], "password": values["DEMO_AGENT_PASSWORD"]})
    assert login.status_code == 200, login.text


def test_partner_is_answered_through_the_signed_webhook(make_run: MakeRun) -> None:
    sandbox = Process("sandbox", make_run.url("sandbox"), make_run.popen, make_run.output)
    inbound(sandbox, **{"from": BUDI, "text": "cek poin dong"})
    replies = wait_for_messages(sandbox, BUDI, 1, timeout=60)
    assert replies and "poin" in message_text(replies[0]).lower()


def test_the_bot_token_cannot_mint_points(make_run: MakeRun) -> None:
    service_token = dotenv_values(make_run.env_file)["SERVICE_TOKEN"]
    backend = make_run.url("backend")
    headers = {"Authorization": f"Bearer {service_token}"}
    balance = requests.get(f"{backend}/api/v1/partners/by-wa/{BUDI}/balance",
                           headers=headers, timeout=10)
    assert balance.status_code == 200
    spec = requests.get(f"{backend}/openapi.json", timeout=10).json()
    paths = [path for path in spec["paths"] if path.endswith("/points/earn")]
    assert paths, "no earn route in the OpenAPI spec"
    for path in paths:
        response = requests.post(
            backend + path.replace("{wa_id}", BUDI), headers=headers, timeout=10,
            json={"points": 1000, "reason": "adjustment", "reference_type": "manual",
                  "reference_id": "x", "idempotency_key": "mint-attempt-1"},
        )
        assert response.status_code == 403, (path, response.status_code, response.text)


def test_make_shell_listens_on_loopback_only(make_run: MakeRun, tmp_path: Path) -> None:
    """`make shell` serves Rasa's terminal channel, which has no authentication: it must
    never listen beyond this machine. (Runs beside `make run`, on ports of its own.)"""
    ports = {name: free_port() for name in ("backend", "actions", "rasa")}
    env = {
        **os.environ,
        "MITRA_ENV_FILE": str(make_run.env_file),
        "MITRA_LOG_DIR": str(tmp_path / "logs"),
        "DATABASE_URL": f"sqlite:///{make_run.database}",
        "RASA_TRACKER_DB": str(tmp_path / "tracker.db"),
        "BACKEND_PORT": str(ports["backend"]),
        "ACTIONS_PORT": str(ports["actions"]),
        "RASA_PORT": str(ports["rasa"]),
    }
    output = tmp_path / "make-shell.log"
    popen = subprocess.Popen(
        ["make", "shell"], cwd=ROOT, env=env, stdin=subprocess.PIPE,
        stdout=output.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not listening_addresses(ports["rasa"]):
            assert popen.poll() is None, output.read_text()[-3000:]
            assert time.monotonic() < deadline, output.read_text()[-3000:]
            time.sleep(1)
        for name, port in ports.items():
            addresses = listening_addresses(port)
            assert addresses and addresses <= LOOPBACK, f"{name} listens on {addresses}"
    finally:
        stop_group(popen)
