"""Expire due points lots: ``python -m app.jobs.expire`` (run it daily, e.g. from cron).

Each partner is expired in a transaction of its own. A partner whose expiry fails is
logged (with its id) and retried on the next run; the others still expire. The exit
status is 1 when any partner failed, so cron reports it.
"""

import logging
import sys
from datetime import datetime

from app.core.config import settings
from app.core.db import get_session_factory
from app.core.logging import configure_logging
from app.services import ledger

log = logging.getLogger("app.jobs.expire")


def run(now: datetime | None = None) -> ledger.ExpiryRun:
    """Expire everything due at ``now`` (default: the current time)."""
    with get_session_factory()() as session:
        result = ledger.expire_all_due(session, now)
    log.info(
        "expiry run",
        extra={
            "entries": result.entries,
            "points": result.points,
            "failed_partners": len(result.failed_partner_ids),
        },
    )
    return result


def main() -> int:
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    return 1 if run().failed_partner_ids else 0


if __name__ == "__main__":
    sys.exit(main())
