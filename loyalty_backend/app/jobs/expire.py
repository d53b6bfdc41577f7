"""Expire due points lots: ``python -m app.jobs.expire`` (run it daily, e.g. from cron)."""

import logging
import sys

from app.core.config import settings
from app.core.db import get_session_factory
from app.core.logging import configure_logging
from app.services import ledger

log = logging.getLogger("app.jobs.expire")


def run() -> int:
    """Expire everything due now; returns the number of points expired."""
    with get_session_factory()() as session:
        entries = ledger.expire_due_lots(session)
    points = -sum(e.delta for e in entries)
    log.info("expiry run", extra={"entries": len(entries), "points": points})
    return points


def main() -> int:
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
