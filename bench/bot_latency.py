"""Bot speed: message→reply through Rasa's REST channel (with the action server and the
backend running), NLU parse latency, Rasa restart to first answer, and training time.

    .venv/bin/python -m bench.bot_latency [--messages 200] [--train] [--no-startup]

Starts its own backend (SQLite, demo seed), action server, sandbox and Rasa on free ports with the
model in models/ (run `make train` first).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from bench.common import percentile
from tests.support.demo import ANDI, BUDI, RINA, SARAH
from tests.support.processes import (
    RASA_AUTH_TOKEN,
    ROOT,
    VENV_BIN,
    base_env,
    free_port,
    running,
    start_stack,
)

PARTNERS = [BUDI, SARAH, ANDI, RINA]
MESSAGES = ["cek poin dong", "my points?", "level aku apa", "riwayat poin bulan ini",
            "poin yg mau hangus kapan", "halo min", "menu"]


def measure_training() -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [str(VENV_BIN / "rasa"), "train", "--domain", "bot/domain.yml", "--data", "bot/data",
             "--config", "config.yml", "--out", out, "--force"],
            cwd=ROOT, env=base_env(), check=True, capture_output=True,
        )
        return time.perf_counter() - started


def measure_startup(timeout: float = 240.0) -> tuple[float, float]:
    """Rasa restart to first answer: spawn ``rasa run`` with the model in models/ on a free
    port and return (seconds until ``/status`` answers 200, seconds until the first
    ``/model/parse`` answers), both from the launch. With the project's credentials.yml
    (the WhatsApp channel, whose import installs ``connectors.rasa_speedups``) and no
    endpoints: this is the cost of starting Rasa and loading the model."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "rasa.log"
        started = time.perf_counter()
        popen = subprocess.Popen(
            [str(VENV_BIN / "rasa"), "run", "-m", str(ROOT / "models"), "--enable-api",
             "--auth-token", RASA_AUTH_TOKEN, "--port", str(port), "-i", "127.0.0.1",
             "--credentials", str(ROOT / "credentials.yml")],
            cwd=tmp, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            env=base_env(WHATSAPP_QUEUE_PATH=str(Path(tmp) / "inbound.db"),
                         WHATSAPP_API_BASE_URL="http://127.0.0.1:9"),
        )
        try:
            while True:
                if popen.poll() is not None:
                    raise RuntimeError(f"rasa exited with {popen.returncode}:\n"
                                       f"{log.read_text(errors='replace')[-3000:]}")
                try:
                    status = requests.get(f"{url}/status?token={RASA_AUTH_TOKEN}", timeout=1)
                    if status.status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"rasa not ready after {timeout}s")
                time.sleep(0.1)
            ready = time.perf_counter() - started
            response = requests.post(f"{url}/model/parse?token={RASA_AUTH_TOKEN}",
                                     json={"text": "cek poin"}, timeout=60)
            assert response.status_code == 200, response.text
            answered = time.perf_counter() - started
        finally:
            popen.terminate()
            try:
                popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=5)
    return ready, answered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--train", action="store_true", help="also time a full training")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip timing a Rasa restart to its first answer")
    args = parser.parse_args()

    if not args.no_startup:  # first, while nothing else runs
        ready, answered = measure_startup()
        print(f"Rasa restart to first answer (rasa run -m models, WhatsApp channel): "
              f"/status 200 after {ready:.1f} s, first /model/parse answered after "
              f"{answered:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        log_dir = Path(tmp)
        stack = start_stack(log_dir, rest=True)  # the sandbox idles
        rasa = stack.rasa
        with running(*stack.processes):
            session = requests.Session()
            reply_ms: list[float] = []
            for index in range(args.messages):
                sender = PARTNERS[index % len(PARTNERS)]
                started = time.perf_counter()
                response = session.post(
                    f"{rasa.url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": MESSAGES[index % len(MESSAGES)]},
                    timeout=30,
                )
                reply_ms.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200 and response.json(), response.text
            parse_ms: list[float] = []
            for index in range(args.messages):
                started = time.perf_counter()
                response = session.post(
                    f"{rasa.url}/model/parse?token={RASA_AUTH_TOKEN}",
                    json={"text": MESSAGES[index % len(MESSAGES)]}, timeout=30,
                )
                parse_ms.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
    print(f"REST message→reply (sequential, {args.messages} msgs, 4 partners): "
          f"median={statistics.median(reply_ms):.1f} ms p95={percentile(reply_ms, 95):.1f} ms")
    print(f"NLU parse (/model/parse, {args.messages} msgs): "
          f"median={statistics.median(parse_ms):.1f} ms p95={percentile(parse_ms, 95):.1f} ms")
    if args.train:
        print(f"Full training (rasa train --force): {measure_training():.1f} s")


if __name__ == "__main__":
    main()
