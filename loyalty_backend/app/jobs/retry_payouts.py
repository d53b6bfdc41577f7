"""Ask the payout provider again: ``python -m app.jobs.retry_payouts [--older-than SECONDS]``.

An e-wallet/pulsa or cashback redemption asks the provider for its payout right after it
commits (app/services/redemptions.py). When the provider raised (down, timeout), the
redemption stays ``requested`` without a payout reference; this job asks again for every
such redemption created at least ``--older-than`` seconds ago (default 120, so a request
still in flight is left alone). Providers are idempotent per redemption number, so asking
twice never pays twice. Run it every few minutes from cron; the exit status is 1 when some
payouts are still waiting, so cron reports a provider that stays down.
"""

import argparse
import logging
import sys
from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.db import get_session_factory
from app.core.logging import configure_logging
from app.services import redemptions

log = logging.getLogger("app.jobs.retry_payouts")

DEFAULT_OLDER_THAN = timedelta(seconds=120)


def run(
    session: Session | None = None, *, older_than: timedelta = DEFAULT_OLDER_THAN
) -> redemptions.RetryRun:
    """Retry the payouts that never reached the provider (see the module docstring)."""
    if session is None:
        with get_session_factory()() as own:
            return run(own, older_than=older_than)
    result = redemptions.retry_payouts(session, older_than=older_than)
    log.info(
        "payouts retried",
        extra={
            "attempted": result.attempted,
            "fulfilled": result.fulfilled,
            "pending": result.pending,
            "cancelled": result.cancelled,
            "still_requested": result.still_requested,
        },
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--older-than",
        type=float,
        default=DEFAULT_OLDER_THAN.total_seconds(),
        metavar="SECONDS",
        help="only redemptions created at least this long ago (default: 120)",
    )
    args = parser.parse_args(argv)
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    result = run(older_than=timedelta(seconds=args.older_than))
    print(
        f"retried {result.attempted} payouts: {result.fulfilled} fulfilled, "
        f"{result.pending} pending, {result.cancelled} cancelled, "
        f"{result.still_requested} still waiting"
    )
    return 1 if result.still_requested else 0


if __name__ == "__main__":
    sys.exit(main())
