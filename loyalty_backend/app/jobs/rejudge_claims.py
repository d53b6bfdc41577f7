"""Judge claims left ``submitted``: ``python -m app.jobs.rejudge_claims [--older-than SECONDS]``.

A claim is committed before it is judged (app/services/claims.py), so a crash or a
deploy between the two leaves it ``submitted``. This job judges every such claim; it runs
at backend startup (app/main.py) and may also run from cron. Judging locks the claim and
skips one that is no longer ``submitted``, so running it beside live requests (or on
several instances) judges each claim once.
"""

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.config import settings
from app.core.db import get_session_factory
from app.core.logging import configure_logging
from app.services import claims

log = logging.getLogger("app.jobs.rejudge_claims")


def run(session: Session | None = None, *, older_than: timedelta = timedelta(0)) -> int:
    """Judge the claims still ``submitted`` (created at least ``older_than`` ago)."""
    if session is None:
        with get_session_factory()() as own:
            return run(own, older_than=older_than)
    judged = claims.rejudge_submitted(session, older_than=older_than)
    log.info("submitted claims re-judged", extra={"judged": judged})
    return judged


def run_at_startup(session_provider: Callable[[], Iterator[Session]]) -> None:
    """The startup hook: never stops the backend from starting (failures are logged)."""
    provider = session_provider()
    try:
        run(next(provider))
    except Exception:
        log.exception("re-judging submitted claims at startup failed")
    finally:
        provider.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--older-than",
        type=float,
        default=0,
        metavar="SECONDS",
        help="only claims submitted at least this long ago (default: all)",
    )
    args = parser.parse_args(argv)
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    print(f"re-judged {run(older_than=timedelta(seconds=args.older_than))} submitted claims")
    return 0


if __name__ == "__main__":
    sys.exit(main())
