"""A process that stores messages in an inbound queue, runs some turns, and is killed
with SIGKILL: the crash tests of the SQLite and Redis queues (``run_and_kill``).

    python -m tests.connectors.crash_child sqlite PATH
    python -m tests.connectors.crash_child redis URL PREFIX

It stores ``crash_messages()`` one ``put`` at a time and prints one line per event
(``stored <id>``, ``started <text>``, ``done <text>``); the turn of ``a-0`` finishes,
every other turn hangs until the process is killed.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from connectors.inbound_queue import InboundQueue
from connectors.turn_scheduler import TurnPolicy
from connectors.whatsapp_payloads import InboundMessage

SENDERS = ("a", "b", "c")
PER_SENDER = 4
POLICY = TurnPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=None)


def crash_messages() -> list[InboundMessage]:
    """Interleaved across senders, as Meta would deliver them."""
    return [
        InboundMessage(
            message_id=f"wamid.crash.{sender}.{i}", sender_id=sender, type="text",
            text=f"{sender}-{i}",
        )
        for i in range(PER_SENDER)
        for sender in SENDERS
    ]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def handler(message: InboundMessage) -> None:
    say(f"started {message.text}")
    if message.text != "a-0":
        await asyncio.Event().wait()  # hangs until SIGKILL
    say(f"done {message.text}")


async def give_up(message: InboundMessage, error: BaseException | None) -> None:
    say(f"gave_up {message.text}")


def build(argv: list[str]) -> InboundQueue:
    if argv[0] == "sqlite":
        from connectors.sqlite_queue import SqliteInboundQueue

        return SqliteInboundQueue(handler, give_up, path=argv[1], policy=POLICY)
    from connectors.redis_queue import RedisStreamQueue

    return RedisStreamQueue(
        handler, give_up, url=argv[1], key_prefix=argv[2], partitions=4, lease_seconds=1.0,
        policy=POLICY,
    )


async def main(argv: list[str]) -> None:
    queue = build(argv)
    await queue.start()
    for message in crash_messages():
        admission = await queue.put([message])
        assert admission.accepted == [message], admission
        say(f"stored {message.message_id}")
    await asyncio.Event().wait()


ROOT = Path(__file__).resolve().parents[2]


def run_and_kill(
    args: list[str], ready: Callable[[list[str]], bool], timeout: float = 30.0
) -> list[str]:
    """Start the child, wait until ``ready(lines so far)``, kill -9 it; returns its lines."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.connectors.crash_child", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    incoming: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [incoming.put(line.strip()) for line in child.stdout],  # type: ignore[union-attr]
        daemon=True,
    ).start()
    lines: list[str] = []
    try:
        while not ready(lines):
            try:
                lines.append(incoming.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"the child never got there: {lines}") from None
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    return lines


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
