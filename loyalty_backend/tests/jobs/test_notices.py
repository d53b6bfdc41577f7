"""The scheduler's notice jobs (issue 21): each queues once per subject, whatever reruns."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import scheduler
from app.core.clock import WIB
from app.core.db import make_session_factory
from app.jobs import notices
from app.models import LedgerEntry, Notification, Partner
from app.services import ledger
from tests.conftest import TestDB
from tests.rewards_utils import give_points
from tests.utils import new_partner

# Wednesday 25 November 2026, 09:00 WIB.
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=WIB).astimezone(UTC)


def _queued(session: Session, kind: str) -> list[tuple[int, dict, str]]:
    session.commit()
    rows = session.scalars(
        select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    )
    return [(row.partner_id, row.params, row.dedupe_key) for row in rows]


def _earn(
    session: Session,
    partner: Partner,
    points: int,
    at: datetime,
    *,
    reason: str = "campaign_bonus",
    days: int | None = None,
) -> None:
    give_points(session, partner, points, reason=reason, now=at, expires_in_days=days)


def test_expiring_points_30_and_7_days_before(session: Session) -> None:
    partner = new_partner(session)
    _earn(session, partner, 100, NOW, days=30)
    _earn(session, partner, 20, NOW - timedelta(hours=1), days=30)
    _earn(session, partner, 40, NOW, days=7)
    _earn(session, partner, 999, NOW, days=10)
    first = notices.expiring_points(session, NOW)
    assert (first.queued, notices.expiring_points(session, NOW).queued) == (2, 0)
    day30, day7 = "2026-12-25", "2026-12-02"
    assert _queued(session, "points_expiring") == [
        (partner.id, {"points": 120, "date": day30}, f"expiring:{partner.id}:{day30}:30"),
        (partner.id, {"points": 40, "date": day7}, f"expiring:{partner.id}:{day7}:7"),
    ]


def test_weekly_summary_ranks_partners_in_their_region(session: Session) -> None:
    last_week = datetime(2026, 11, 18, 10, 0, tzinfo=WIB)  # Wednesday of ISO week 47
    a, b, c = (new_partner(session, region="Bali") for _ in range(3))
    other = new_partner(session, region="DKI Jakarta")
    _earn(session, a, 300, last_week)
    _earn(session, b, 500, last_week)
    _earn(session, c, 300, last_week + timedelta(days=1))
    _earn(session, other, 50, last_week)
    _earn(session, a, 10_000, NOW - timedelta(hours=1))  # this week: not counted
    ledger.adjust(
        session,
        partner_id=c.id,
        points=999,
        note="fix",
        idempotency_key="adj",
        actor="admin",
        now=last_week,
    )  # fmt: skip  (a correction is not "earned")
    run = notices.weekly_summary(session, NOW)
    assert (run.queued, run.details["week"]) == (4, "2026-W47")
    assert notices.weekly_summary(session, NOW).queued == 0
    summary = {pid: params for pid, params, _ in _queued(session, "weekly_summary")}
    assert summary == {
        a.id: {"points": 300, "rank": 2, "region": "Bali"},
        b.id: {"points": 500, "rank": 1, "region": "Bali"},
        c.id: {"points": 300, "rank": 2, "region": "Bali"},
        other.id: {"points": 50, "rank": 1, "region": "DKI Jakarta"},
    }


def test_dormant_partners_are_nudged_once_per_quiet_spell(session: Session) -> None:
    quiet = new_partner(session, now=NOW - timedelta(days=40))
    active = new_partner(session, now=NOW - timedelta(days=40))
    _earn(session, active, 10, NOW - timedelta(days=5))
    new_partner(session, now=NOW - timedelta(days=3))  # joined recently
    lapsed = new_partner(session, now=NOW - timedelta(days=90))
    _earn(session, lapsed, 10, NOW - timedelta(days=45))
    assert notices.dormant_nudges(session, NOW).queued == 2
    assert notices.dormant_nudges(session, NOW + timedelta(days=1)).queued == 0
    nudged = {pid: params["days"] for pid, params, _ in _queued(session, "dormant_nudge")}
    assert nudged == {quiet.id: 40, lapsed.id: 45}


def test_anniversary_vouchers_once_a_year(session: Session) -> None:
    year_ago = NOW - timedelta(days=365)
    assert year_ago.astimezone(WIB).date().strftime("%m-%d") == "11-25"
    partner = new_partner(session, now=year_ago)
    new_partner(session, now=year_ago - timedelta(days=1))
    new_partner(session, now=NOW)  # joined today: not yet a year
    assert notices.anniversary_vouchers(session, NOW).queued == 1
    assert notices.anniversary_vouchers(session, NOW + timedelta(hours=3)).queued == 0
    [(pid, params, key)] = _queued(session, "birthday_voucher")
    assert (pid, key) == (partner.id, f"anniversary:{partner.id}:2026")
    assert params["voucher_code"] == "ULTAHMITRA" and set(params) == {
        "voucher_code",
        "reward_id",
        "reward_en",
    }


def test_event_attendance_points_are_credited_once(session: Session, tmp_path: Path) -> None:
    one, two = new_partner(session), new_partner(session)
    (tmp_path / "expo.yml").write_text(
        "event_id: expo-2026\nname: {id: Pameran Mitra, en: Mitra Expo}\ndate: 2026-11-20\n"
        f"points: 150\nattendees: ['{one.wa_id}', '{two.wa_id}', '{two.wa_id}', '6289999']\n",
        encoding="utf-8",
    )
    (tmp_path / "broken.yml").write_text("event_id: x\npoints: -1\n", encoding="utf-8")
    run = notices.event_points(session, NOW, folder=tmp_path)
    assert (run.queued, run.skipped, run.failed) == (2, 1, 1)
    assert notices.event_points(session, NOW, folder=tmp_path).queued == 0
    session.commit()
    credits = session.scalars(
        select(LedgerEntry.partner_id).where(LedgerEntry.reference_type == "event")
    ).all()
    assert sorted(credits) == sorted([one.id, two.id])
    assert {pid for pid, *_ in _queued(session, "event_points")} == {one.id, two.id}
    assert _queued(session, "event_points")[0][1] == {
        "event_id": "Pameran Mitra",
        "event_en": "Mitra Expo",
        "points": 150,
    }


def test_no_event_folder_is_nothing_to_do(session: Session, tmp_path: Path) -> None:
    run = notices.event_points(session, NOW, folder=tmp_path / "missing")
    assert (run.queued, run.failed) == (0, 0)


# --- the scheduler -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now_wib", "job", "latest", "following"),
    [
        (datetime(2026, 11, 25, 9, 0), "expiring_points", (11, 25), (11, 26)),
        (datetime(2026, 11, 25, 8, 59), "expiring_points", (11, 24), (11, 25)),
        (datetime(2026, 11, 25, 12, 0), "weekly_summary", (11, 23), (11, 30)),
        (datetime(2026, 11, 30, 8, 0), "weekly_summary", (11, 23), (11, 30)),
    ],
)
def test_slots_are_at_nine_wib(
    now_wib: datetime, job: str, latest: tuple[int, int], following: tuple[int, int]
) -> None:
    now = now_wib.replace(tzinfo=WIB).astimezone(UTC)
    assert scheduler.latest_slot(job, now) == datetime(2026, *latest, 9, 0, tzinfo=WIB)
    assert scheduler.next_slot(job, now) == datetime(2026, *following, 9, 0, tzinfo=WIB)


def test_a_restart_just_after_the_slot_catches_up(db: TestDB, session: Session) -> None:
    partner = new_partner(session)
    _earn(session, partner, 100, NOW, days=30)
    stop = threading.Event()
    stop.set()  # only the catch-up runs
    factory = make_session_factory(db.engine)
    scheduler.run_forever(factory, stop, clock=lambda: NOW + timedelta(minutes=5))
    assert len(_queued(session, "points_expiring")) == 1
    scheduler.run_forever(factory, stop, clock=lambda: NOW + timedelta(minutes=10))
    assert len(_queued(session, "points_expiring")) == 1


def test_run_once_names_a_job(db: TestDB) -> None:
    result = scheduler.run_job(make_session_factory(db.engine), "dormant_nudges", NOW)
    assert result is not None and result.job == "dormant_nudges"
    with pytest.raises(SystemExit):
        scheduler.main(["--run-once", "no_such_job"])
    assert scheduler.main(["--list"]) == 0
