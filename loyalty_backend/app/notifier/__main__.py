"""``python -m app.notifier``: the notifier process (see app/notifier/loop.py).

Reads the backend's settings (DATABASE_URL, RASA_URL, RASA_AUTH_TOKEN, NOTIFIER_*). Stops
gracefully on SIGTERM or SIGINT: in-flight triggers finish, rows it still holds go back to
``pending``. Without RASA_AUTH_TOKEN it says so and waits for the signal (it never
triggers anything).
"""

import asyncio
import contextlib
import logging
import signal
import sys

from app.core.config import settings
from app.core.db import get_session_factory
from app.core.logging import configure_logging
from app.notifier.loop import NotifierConfig, run_until_stopped
from app.notifier.outbox import SqlOutbox
from app.services.rasa_client import client_for

log = logging.getLogger("app.notifier")


async def main() -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    client = client_for(settings)
    if not client.configured:
        log.error("the notifier is off: RASA_AUTH_TOKEN is not set")
        await stop.wait()
        return 0
    config = NotifierConfig.from_settings(settings)
    log.info(
        "notifier started",
        extra={
            "max_per_second": config.max_per_second,
            "concurrency": config.concurrency,
            "batch": config.batch,
            "lease_seconds": config.lease_seconds,
            "partner_interval_s": config.partner_interval,
        },
    )
    await run_until_stopped(SqlOutbox(get_session_factory()), client, config, stop)
    return 0


if __name__ == "__main__":
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    sys.exit(asyncio.run(main()))
