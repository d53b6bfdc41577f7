"""Run the notice jobs on time: ``python -m app.scheduler`` (started by ``make run``).

Daily jobs (app/jobs/notices.py ``DAILY``: expiring points, dormant nudges, anniversary
vouchers, event points) run at 09:00 WIB; weekly ones (``WEEKLY``: the weekly summary)
on Mondays at 09:00 WIB. The loop sleeps until the next slot; on start it also runs every
job whose latest slot passed less than ``CATCH_UP`` ago (a scheduler restarted at 09:05
still sends today's). Each job is idempotent per run through its dedupe keys, so a job run
twice (two schedulers, a restart, cron) queues nothing twice. A job that fails is logged
and the others still run; the next slot tries again.

``python -m app.scheduler --run-once <job>`` runs one job now and exits (tests, cron,
an operator): exit status 1 when it failed. ``--list`` names the jobs.
"""

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, time, timedelta
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from app.core.clock import WIB, utcnow
from app.core.config import settings
from app.core.logging import configure_logging
from app.jobs import notices

log = logging.getLogger("app.scheduler")

RUN_AT = time(9, 0)  # WIB
WEEKLY_DAY = 0  # Monday
CATCH_UP = timedelta(hours=3)


def latest_slot(job: str, now: datetime) -> datetime:
    """The job's most recent slot at or before ``now`` (aware, UTC)."""
    local = now.astimezone(WIB)
    slot = datetime.combine(local.date(), RUN_AT, tzinfo=WIB)
    if slot > local:
        slot -= timedelta(days=1)
    if job in notices.WEEKLY:
        slot -= timedelta(days=(slot.weekday() - WEEKLY_DAY) % 7)
    return slot.astimezone(now.tzinfo)


def next_slot(job: str, now: datetime) -> datetime:
    """The job's first slot strictly after ``now``."""
    step = timedelta(days=7 if job in notices.WEEKLY else 1)
    return latest_slot(job, now) + step


def run_job(
    factory: sessionmaker[Session], job: str, now: datetime | None = None
) -> notices.JobRun | None:
    """Run one job in a session of its own; None when it raised (logged)."""
    try:
        with factory() as session:
            result = notices.JOBS[job](session, now or utcnow())
    except Exception:
        log.exception("scheduled job failed", extra={"job": job})
        return None
    log.info("scheduled job ran", extra=asdict(result))
    return result


def run_forever(
    factory: sessionmaker[Session],
    stop: threading.Event,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    now = clock()
    for job in notices.JOBS:  # catch up a slot that passed just before the start
        if now - latest_slot(job, now) < CATCH_UP:
            run_job(factory, job, now)
    due = {job: next_slot(job, now) for job in notices.JOBS}
    while not stop.is_set():
        now = clock()
        for job, at in sorted(due.items(), key=lambda item: item[1]):
            if at <= now:
                run_job(factory, job, now)
                due[job] = next_slot(job, now)
        wait = (min(due.values()) - clock()).total_seconds()
        stop.wait(timeout=min(max(wait, 1.0), 60.0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--run-once", choices=sorted(notices.JOBS), metavar="JOB")
    parser.add_argument("--list", action="store_true", help="name the jobs and exit")
    args = parser.parse_args(argv)
    if args.list:
        for job in notices.JOBS:
            print(f"{job} ({'weekly, Monday' if job in notices.WEEKLY else 'daily'} 09:00 WIB)")
        return 0
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    from app.core.db import get_session_factory  # here: --list needs no database

    factory = get_session_factory()
    if args.run_once:
        result = run_job(factory, args.run_once)
        if result is None:
            return 1
        print(
            f"{result.job}: {result.queued} queued, {result.skipped} skipped, "
            f"{result.failed} failed"
        )
        return 1 if result.failed else 0
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler started", extra={"jobs": list(notices.JOBS)})
    run_forever(factory, stop)
    log.info("scheduler stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
