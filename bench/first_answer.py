"""A fresh clone's first answer: `git clone` this repository into a temporary folder,
run `make run` there (both environments, migrations, demo data, training, every
process) and time until Budi's "cek poin" gets its reply through the sandbox.

    .venv/bin/python -m bench.first_answer

Uses free ports and its own .env/databases; uv's package cache is the machine's (a
machine that never ran `make setup` downloads the packages first, which this does not
count as part of Mitra's start-up).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.support.demo import BUDI
from tests.support.processes import ROOT, free_port

READY_LINE = "Mitra is running"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "mitra"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        ports = {name: free_port() for name in ("BACKEND", "ACTIONS", "RASA", "SANDBOX")}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "SANDBOX_"))}
        env.update({f"{name}_PORT": str(port) for name, port in ports.items()})
        env["WHATSAPP_GATEWAY_PORT"] = str(free_port())
        env.pop("PYTHONPATH", None)
        log = Path(tmp) / "make-run.log"
        started = time.monotonic()
        popen = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=log.open("wb"),
                                 stderr=subprocess.STDOUT, start_new_session=True)
        marks: dict[str, float] = {}
        try:
            while READY_LINE not in log.read_text(errors="replace"):
                text = log.read_text(errors="replace")
                if "train_if_changed" in text:  # make's echo: setup and db are done
                    marks.setdefault("setup and database ready", time.monotonic() - started)
                if popen.poll() is not None or time.monotonic() - started > 900:
                    raise SystemExit(f"make run did not come up:\n{text[-3000:]}")
                time.sleep(0.5)
            marks["all processes up"] = time.monotonic() - started
            sandbox = f"http://127.0.0.1:{ports['SANDBOX']}"
            response = requests.post(f"{sandbox}/sandbox/inbound",
                                     json={"from": BUDI, "text": "cek poin"}, timeout=30)
            response.raise_for_status()
            while True:
                sent = requests.get(f"{sandbox}/sandbox/messages", params={"to": BUDI},
                                    timeout=5).json()["messages"]
                if any(m["payload"].get("type") != "read" for m in sent):
                    break
                if time.monotonic() - started > 900:
                    raise SystemExit("no answer")
                time.sleep(0.2)
            marks["first answer"] = time.monotonic() - started
        finally:
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGINT)
                popen.wait(timeout=60)
    print("fresh clone, make run: " + ", ".join(f"{k} {v:.0f} s" for k, v in marks.items()))


if __name__ == "__main__":
    main()
