"""Start the real Mitra processes for tests, each on a free port, and stop them after.

Every process writes its log to the test's tmp dir; on a failed start the tail of that
log is in the exception so CI output says why.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
BACKEND_DIR = ROOT / "loyalty_backend"
BACKEND_BIN = BACKEND_DIR / ".venv" / "bin"
VENV_BIN = ROOT / ".venv" / "bin"
SERVICE_TOKEN = "test-service-token"
ERP_API_KEY = "test-erp-api-key"
RASA_AUTH_TOKEN = "test-rasa-token"
ACTION_SERVER_TOKEN = "test-action-server-token"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "100000000000001"
API_VERSION = "v21.0"
# The WhatsApp channel -> backend: what WhatsApp said about the program's notices.
REPORT_TOKEN = "test-whatsapp-report-token"
# The support console's demo logins (docs/contracts.md, "Hand-off to a person"):
# ``app.initial_data`` creates or updates these two users from the environment.
DEMO_AGENT_EMAIL = "agent@example.com"
DEMO_AGENT_PASSWORD = "agent-console-password-1"
DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "admin-console-password-1"
CONSOLE_LOGINS = {
    "DEMO_AGENT_EMAIL": DEMO_AGENT_EMAIL,
    "DEMO_AGENT_PASSWORD": DEMO_AGENT_PASSWORD,
    "DEMO_ADMIN_EMAIL": DEMO_ADMIN_EMAIL,
    "DEMO_ADMIN_PASSWORD": DEMO_ADMIN_PASSWORD,
}
# What a stack's backend gets unless the test says otherwise (``backend_env``): support
# is always open and the no-agent timer is checked every second.
STACK_BACKEND_ENV = {
    "SUPPORT_HOURS_ALWAYS_OPEN": "true",
    "HANDOFF_CHECK_INTERVAL_SECONDS": "1",
}


# Ports handed out by free_port: a stack chooses Rasa's and the gateway's ports before it
# starts the sandbox and the action server (the sandbox must know where to post), so a
# port handed out but not yet bound must never be handed out again.
_issued_ports: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on and that this process has not handed out."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _issued_ports:
            _issued_ports.add(port)
            return port


@dataclass
class Process:
    name: str
    url: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def base_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(ROOT),
        SERVICE_TOKEN=SERVICE_TOKEN,
        ERP_API_KEY=ERP_API_KEY,
        ACTION_SERVER_TOKEN=ACTION_SERVER_TOKEN,
        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_API_VERSION=API_VERSION,
        WHATSAPP_REPORT_TOKEN=REPORT_TOKEN,
    )
    env.update(extra)
    return env


# With the ingress gateway, the processes that run turns start at this lower CPU
# priority (as scripts/run_all.sh does), so a burst of turns never makes an
# acknowledgement wait for a core.
TURN_NICENESS = int(os.environ.get("MITRA_TURN_NICENESS", "10"))


def spawn(
    name: str, args: list[str], log_dir: Path, env: dict[str, str], cwd: Path = ROOT,
    health_url: str | None = None, url: str = "", timeout: float = 60.0, nice: int = 0,
) -> Process:
    log = log_dir / f"{name}.log"
    if nice:
        args = ["nice", "-n", str(nice), *args]  # nice execs: the pid stays the program's
    popen = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    process = Process(name=name, url=url, popen=popen, log=log)
    if health_url:
        deadline = time.monotonic() + timeout
        while True:
            if popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {popen.returncode}:\n{process.tail()}")
            try:
                if requests.get(health_url, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                process.stop()
                raise RuntimeError(f"{name} not ready after {timeout}s:\n{process.tail()}")
            time.sleep(0.3)
    return process


def prepare_backend_db(
    database_url: str, log_dir: Path, extra_env: dict[str, str] | None = None
) -> None:
    """Migrate and seed a backend database with the demo data (and the console's demo
    logins, ``CONSOLE_LOGINS`` unless ``extra_env`` says otherwise)."""
    env = base_env(DATABASE_URL=database_url, **{**CONSOLE_LOGINS, **(extra_env or {})})
    for step in (["alembic", "upgrade", "head"], ["python", "-m", "app.initial_data"]):
        result = subprocess.run(
            [str(BACKEND_BIN / step[0]), *step[1:]], cwd=BACKEND_DIR, env=env,
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode:
            raise RuntimeError(f"{' '.join(step)} failed:\n{result.stdout}\n{result.stderr}")
    (log_dir / "db-ready").write_text(database_url)


def start_backend(
    log_dir: Path, database_url: str, nice: int = 0, extra_env: dict[str, str] | None = None
) -> Process:
    """The backend on a free port; ``extra_env`` adds to (or overrides) its environment
    and the seed's, which always include the console's demo logins."""
    env = {**CONSOLE_LOGINS, **(extra_env or {})}
    prepare_backend_db(database_url, log_dir, env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return spawn(
        "backend",
        [str(BACKEND_BIN / "uvicorn"), "app.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        log_dir, base_env(DATABASE_URL=database_url, **env), cwd=BACKEND_DIR,
        health_url=f"{url}/health", url=url, nice=nice,
    )


def start_action_server(
    log_dir: Path, backend_url: str, name: str = "actions",
    extra_env: dict[str, str] | None = None, nice: int = 0,
) -> Process:
    """``python -m actions.server`` on loopback; Rasa must send ``ACTION_SERVER_TOKEN``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return spawn(
        name,
        [str(VENV_BIN / "python"), "-m", "actions.server", "--port", str(port)],
        log_dir, base_env(BACKEND_URL=backend_url, **(extra_env or {})),
        health_url=f"{url}/health", url=url, timeout=90, nice=nice,
    )


def start_sandbox(log_dir: Path, webhook_url: str, name: str = "sandbox") -> Process:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env(SANDBOX_WEBHOOK_URL=webhook_url, SANDBOX_PUBLIC_URL=url)
    return spawn(
        name, [str(VENV_BIN / "python"), "-m", "sandbox", "--port", str(port)],
        log_dir, env, health_url=f"{url}/sandbox/partners", url=url,
    )


def start_gateway(
    log_dir: Path, graph_url: str, env: dict[str, str], name: str = "gateway",
    port: int | None = None,
) -> Process:
    """``python -m connectors.gateway``: receives webhooks into the queue Rasa reads."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    return spawn(
        name,
        [str(VENV_BIN / "python"), "-m", "connectors.gateway", "--port", str(port)],
        log_dir, base_env(WHATSAPP_API_BASE_URL=graph_url, **env),
        health_url=f"{url}/webhooks/whatsapp/", url=url,
    )


def write_endpoints(
    path: Path, action_url: str, tracker_store: str,
    lock_store: str = "  type: connectors.lock_store.ThreadSafeInMemoryLockStore\n",
) -> Path:
    path.write_text(
        f"action_endpoint:\n  url: \"{action_url}/webhook\"\n"
        # Unquoted: Rasa expands ${VAR} in plain YAML scalars only.
        f"  headers:\n    Authorization: Bearer ${{ACTION_SERVER_TOKEN}}\n"
        f"tracker_store:\n{tracker_store}"
        f"lock_store:\n{lock_store}"
    )
    return path


def start_rasa(
    log_dir: Path, endpoints: Path, graph_url: str, name: str = "rasa",
    extra_env: dict[str, str] | None = None, port: int | None = None, rest: bool = False,
    nice: int = 0,
) -> Process:
    """Rasa with the project's credentials.yml; ``rest=True`` adds Rasa's REST channel
    (unauthenticated, so only the benchmarks use it)."""
    port = port or free_port()
    credentials = ROOT / "credentials.yml"
    if rest:
        credentials = log_dir / f"{name}-credentials.yml"
        credentials.write_text("rest:\n" + (ROOT / "credentials.yml").read_text())
    url = f"http://127.0.0.1:{port}"
    # Each Rasa its own inbound journal (never the repository's var/): one file serves one
    # instance. Pass the same WHATSAPP_QUEUE_PATH again to restart on the same journal.
    journal = {"WHATSAPP_QUEUE_PATH": str(log_dir / f"{name}-inbound.db")}
    env = base_env(WHATSAPP_API_BASE_URL=graph_url, **{**journal, **(extra_env or {})})
    return spawn(
        name,
        [str(VENV_BIN / "rasa"), "run", "--enable-api", "--auth-token", RASA_AUTH_TOKEN,
         "-m", str(ROOT / "models"), "--endpoints", str(endpoints),
         "--credentials", str(credentials), "--port", str(port)],
        log_dir, env, health_url=f"{url}/status?token={RASA_AUTH_TOKEN}", url=url,
        timeout=240, nice=nice,
    )


def kill_9(process: Process) -> None:
    """SIGKILL: no shutdown hook runs, as when the machine or the OOM killer stops it."""
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGKILL)
    process.popen.wait(timeout=10)


@contextmanager
def running(*processes: Process) -> Iterator[None]:
    try:
        yield
    finally:
        for process in reversed(processes):
            process.stop()




WEBHOOK_PATH = "/webhooks/whatsapp/webhook"


@dataclass
class Stack:
    """The whole Mitra stack: backend, action server, WhatsApp sandbox and Rasa."""

    backend: Process
    actions: Process
    sandbox: Process
    rasa: Process
    gateway: Process | None = None

    @property
    def processes(self) -> tuple[Process, ...]:
        extra = (self.gateway,) if self.gateway else ()
        return (self.backend, self.actions, self.sandbox, self.rasa, *extra)

    @property
    def webhook_url(self) -> str:
        """Where Meta (or the sandbox) posts webhooks: the gateway when there is one."""
        return (self.gateway or self.rasa).url + WEBHOOK_PATH

    def backend_get(self, path: str) -> Any:
        """GET ``/api/v1{path}`` from the backend with the service token."""
        response = requests.get(
            f"{self.backend.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=5,
        )
        response.raise_for_status()
        return response.json()


def start_stack(
    log_dir: Path, rest: bool = False, rasa_env: dict[str, str] | None = None,
    gateway: bool = False, tracker_store: str | None = None, lock_store: str | None = None,
    backend_env: dict[str, str] | None = None,
) -> Stack:
    """Start every process on free ports: SQLite backend with the demo seed, SQLite
    tracker store, Rasa talking to the sandbox and the sandbox posting to Rasa.
    ``rasa_env`` adds to Rasa's environment (e.g. which inbound queue it uses).
    ``gateway=True``: webhooks go to the ingress gateway, Rasa only runs turns.
    ``backend_env`` adds to (or overrides) the backend's: it already knows Rasa's URL
    and token (hand-offs), the console's demo logins and ``STACK_BACKEND_ENV``
    (e.g. ``{"HANDOFF_TIMEOUT_SECONDS": "3"}`` or ``{"SUPPORT_HOURS_ALWAYS_OPEN":
    "false"}``)."""
    started: list[Process] = []
    try:  # a process that fails to start must not leave the others running
        nice = TURN_NICENESS if gateway else 0
        # Rasa's port first: the backend calls Rasa's HTTP API (agent replies, hand-back).
        rasa_port, gateway_port = free_port(), free_port()
        backend = started_with(started, start_backend(
            log_dir, f"sqlite:///{log_dir / 'mitra.db'}", nice=nice,
            extra_env={
                "RASA_URL": f"http://127.0.0.1:{rasa_port}",
                "RASA_AUTH_TOKEN": RASA_AUTH_TOKEN,
                **STACK_BACKEND_ENV,
                **(backend_env or {}),
            },
        ))
        receiver = gateway_port if gateway else rasa_port
        sandbox = started_with(
            started, start_sandbox(log_dir, f"http://127.0.0.1:{receiver}{WEBHOOK_PATH}")
        )
        # The action server downloads partners' photos from the (sandbox's) Graph API.
        actions = started_with(started, start_action_server(
            log_dir, backend.url, nice=nice,
            extra_env={"WHATSAPP_API_BASE_URL": sandbox.url},
        ))
        # The channel (and the gateway) report notices' outcomes and statuses to the backend.
        rasa_env = {"BACKEND_URL": backend.url, **(rasa_env or {})}
        gateway_process = None
        if gateway:
            rasa_env["WHATSAPP_INGRESS"] = "gateway"
            rasa_env.setdefault("WHATSAPP_QUEUE_PATH", str(log_dir / "rasa-inbound.db"))
            gateway_process = started_with(
                started, start_gateway(log_dir, sandbox.url, rasa_env, port=gateway_port)
            )
        endpoints = write_endpoints(
            log_dir / "endpoints.yml", actions.url,
            tracker_store or f"  type: SQL\n  dialect: sqlite\n  db: {log_dir / 'tracker.db'}\n",
            **({"lock_store": lock_store} if lock_store else {}),
        )
        rasa = start_rasa(
            log_dir, endpoints, graph_url=sandbox.url, port=rasa_port, rest=rest,
            extra_env=rasa_env, nice=nice,
        )
    except BaseException:
        for process in reversed(started):
            process.stop()
        raise
    return Stack(
        backend=backend, actions=actions, sandbox=sandbox, rasa=rasa, gateway=gateway_process
    )


def start_notifier(
    log_dir: Path, database_url: str, rasa_url: str, name: str = "notifier",
    extra_env: dict[str, str] | None = None,
) -> Process:
    """``python -m app.notifier`` (backend venv): drains the outbox into Rasa."""
    env = base_env(DATABASE_URL=database_url, RASA_URL=rasa_url,
                   RASA_AUTH_TOKEN=RASA_AUTH_TOKEN, **(extra_env or {}))
    return spawn(name, [str(BACKEND_BIN / "python"), "-m", "app.notifier"], log_dir, env,
                 cwd=BACKEND_DIR)


def started_with(started: list[Process], process: Process) -> Process:
    started.append(process)
    return process
