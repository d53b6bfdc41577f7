"""The notifier against a fake Rasa on a real loopback port (docs/contracts.md, "Notices
the program sends first"): one trigger per partner and group, the notice JSON, ``auto``
(the bot picks by the window) or ``template`` after WhatsApp's 131047, back-off while
Rasa is down or failing, the rate caps, a crash between trigger and ``handed``, and a
graceful stop."""

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.db import make_session_factory
from app.models import Notification
from app.models.handoff import HandoffReason
from app.notifier.loop import Notifier
from app.notifier.outbox import SqlOutbox
from app.services import handoffs
from tests.conftest import TestDB
from tests.handoff_utils import RASA_TOKEN
from tests.notifier.helpers import (
    PARAMS,
    enqueue,
    fake_rasa,
    notifier_for,
    rows,
    run_notifier,
)
from tests.utils import new_partner

BACKEND = Path(__file__).resolve().parents[2]


def _all(factory, status: str):
    return lambda: all(row.status == status for row in rows(factory))


def test_one_trigger_per_partner_and_group_with_the_notice_json(
    db: TestDB, session: Session
) -> None:
    factory = make_session_factory(db.engine)
    ani, budi = new_partner(session, region="Bali"), new_partner(session, region="Papua")
    session.commit()
    for kind in ("claim_approved", "points_credited", "tier_up"):
        enqueue(session, ani, kind, key=f"claim:CLM-000123:{kind}", group_key="CLM-000123")
    enqueue(session, ani, "redemption_shipped", key="rdm:7:shipped")
    enqueue(session, budi, "points_credited", key="claim:CLM-000124:points",
            group_key="CLM-000124")  # fmt: skip
    ids = [row.id for row in rows(factory)]

    with fake_rasa() as rasa:
        run_notifier(notifier_for(factory, rasa.url), _all(factory, "handed"))

    triggers = rasa.triggers_ok()
    assert len(triggers) == 3
    assert rasa.tracker_reads == []  # one Rasa request per notice: the trigger
    for trigger in triggers:
        assert trigger.query["output_channel"] == "whatsapp"
        assert trigger.query["include_events"] == "NONE"
        assert trigger.body["name"] == "EXTERNAL_notify"
        assert isinstance(trigger.body["entities"]["notice"], str)
    by_ids = {tuple(t.notice["ids"]): t for t in triggers}
    assert set(by_ids) == {tuple(ids[:3]), (ids[3],), (ids[4],)}

    grouped = by_ids[tuple(ids[:3])]
    assert grouped.wa_id == ani.wa_id
    assert grouped.notice == {
        "ids": ids[:3],
        "delivery": "auto",
        "items": [
            {"id": ids[0], "kind": "claim_approved", "params": PARAMS["claim_approved"],
             "template": {"name": "mitra_claim_approved",
                          "parameters": ["CLM-000123", "1.250"]}},
            {"id": ids[1], "kind": "points_credited", "params": PARAMS["points_credited"],
             "template": {"name": "mitra_points_credited",
                          "parameters": ["1.250", "klaim CLM-000123", "4.800"]}},
            {"id": ids[2], "kind": "tier_up", "params": PARAMS["tier_up"],
             "template": {"name": "mitra_tier_up", "parameters": ["Gold"]}},
        ],
    }  # fmt: skip
    shipped = by_ids[(ids[3],)].notice
    assert shipped["items"][0]["template"] == {
        "name": "mitra_redemption_shipped", "parameters": ["RDM-000007", "Payung", "JNE123"],
    }  # fmt: skip
    assert by_ids[(ids[4],)].wa_id == budi.wa_id
    assert by_ids[(ids[4],)].notice["delivery"] == "auto"

    stored = {row.id: row for row in rows(factory)}
    # How it went (a message or the template) is the connector's send report to say.
    assert [stored[i].delivery for i in ids] == [None] * 5
    assert all(stored[i].handed_at is not None for i in ids)


def test_the_bot_picks_by_the_window_unless_whatsapp_asked_for_the_template(
    db: TestDB, session: Session
) -> None:
    factory = make_session_factory(db.engine)
    fresh, refused = new_partner(session), new_partner(session)
    session.commit()
    for index, partner in enumerate((fresh, refused)):
        enqueue(session, partner, key=f"n:{index}")
    # WhatsApp answered 131047 for this one before: it goes as a template whatever the
    # conversation says.
    session.execute(
        update(Notification).where(Notification.wa_id == refused.wa_id).values(delivery="template")
    )
    session.commit()

    with fake_rasa() as rasa:
        run_notifier(notifier_for(factory, rasa.url), _all(factory, "handed"))

    delivery = {t.wa_id: t.notice["delivery"] for t in rasa.triggers_ok()}
    assert delivery == {fresh.wa_id: "auto", refused.wa_id: "template"}
    stored = {row.wa_id: row.delivery for row in rows(factory)}
    assert stored == {fresh.wa_id: None, refused.wa_id: "template"}


def test_a_partner_in_a_hand_off_gets_no_trigger_until_it_ends(
    db: TestDB, session: Session
) -> None:
    """The rules hold back partners with an open hand-off (the bot is paused)."""
    factory = make_session_factory(db.engine)
    waiting, free = new_partner(session), new_partner(session)
    session.commit()
    handoffs.request(
        session, waiting, reason=HandoffReason.REQUESTED, idempotency_key="wamid.h1", now=utcnow()
    )
    session.commit()
    enqueue(session, waiting, key="agent:1")
    enqueue(session, free, key="free:1")
    with fake_rasa() as rasa:

        def settled() -> bool:
            by_partner = {r.wa_id: r for r in rows(factory)}
            return (by_partner[free.wa_id].status == "handed"
                    and by_partner[waiting.wa_id].status == "pending"
                    and by_partner[waiting.wa_id].not_before is not None)

        run_notifier(notifier_for(factory, rasa.url), settled)
    assert [t.wa_id for t in rasa.triggers_ok()] == [free.wa_id]
    [held] = [r for r in rows(factory) if r.wa_id == waiting.wa_id]
    assert held.last_error == "with_agent" and held.attempts == 0
    assert held.not_before.replace(tzinfo=None) > datetime.now(UTC).replace(tzinfo=None) \
        + timedelta(minutes=4)


def test_a_partner_with_an_agent_gets_notices_after_the_hand_back(
    db: TestDB, session: Session
) -> None:
    """A hand-off that began after the rules looked: Rasa answers ``paused`` (it said
    nothing), and the notice must not be lost as "handed"."""
    factory = make_session_factory(db.engine)
    with_agent, free = new_partner(session), new_partner(session)
    session.commit()
    enqueue(session, with_agent, key="agent:1")
    enqueue(session, free, key="free:1")
    session.commit()
    with fake_rasa() as rasa:
        rasa.paused.add(with_agent.wa_id)

        def settled() -> bool:
            by_partner = {r.wa_id: r for r in rows(factory)}
            return (by_partner[free.wa_id].status == "handed"
                    and by_partner[with_agent.wa_id].status == "pending"
                    and by_partner[with_agent.wa_id].not_before is not None)

        run_notifier(notifier_for(factory, rasa.url), settled)
    assert sorted(t.wa_id for t in rasa.triggers_ok()) == sorted([free.wa_id, with_agent.wa_id])
    [waiting] = [r for r in rows(factory) if r.wa_id == with_agent.wa_id]
    assert "agent" in (waiting.last_error or "")
    assert waiting.not_before.replace(tzinfo=None) > datetime.now(UTC).replace(tzinfo=None) \
        + timedelta(minutes=4)


def test_rasa_failing_backs_off_then_delivers_when_it_is_back(db: TestDB, session: Session) -> None:
    factory = make_session_factory(db.engine)
    partner = new_partner(session)
    session.commit()
    enqueue(session, partner, key="n:1")

    with fake_rasa() as rasa:
        rasa.fail_with, rasa.fail_paths = 503, ("trigger_intent",)

        def recover() -> None:
            rasa.fail_with = None

        def tried_three_times() -> bool:
            return len(rasa.triggers) >= 3

        notifier = notifier_for(factory, rasa.url, backoff_base=0.3, backoff_max=5.0)
        run_notifier(notifier, tried_three_times, after=recover)
        [row] = rows(factory)
        assert row.status == "pending"
        assert row.attempts >= 3
        assert row.last_error_code == 503
        assert row.not_before > utcnow() - timedelta(seconds=5)
        # Back in business: the same row goes out, nothing lost.
        run_notifier(notifier_for(factory, rasa.url), _all(factory, "handed"))

    failed = [t.at for t in rasa.triggers[:3]]
    # 0.3 s after the first failure, 0.6 s after the second (the back-off doubles).
    assert failed[1] - failed[0] >= 0.25
    assert failed[2] - failed[1] >= 0.5
    assert {tuple(t.notice["ids"]) for t in rasa.triggers} == {(row.id,)}
    [row] = rows(factory)
    assert row.status == "handed"


def test_rasa_unreachable_keeps_the_notice(db: TestDB, session: Session) -> None:
    """Rasa down: the notice waits 0.2 s, 0.4 s, 0.8 s ... and an outage never uses up its
    attempts (it would end ``failed``): nothing is lost however long Rasa is away."""
    factory = make_session_factory(db.engine)
    partner = new_partner(session)
    session.commit()
    enqueue(session, partner, key="n:1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = notifier_for(factory, f"http://127.0.0.1:{port}", backoff_base=0.2)
    started = time.monotonic()
    run_notifier(notifier, lambda: notifier.stats.by_status["down"] >= 3)
    assert time.monotonic() - started >= 0.2 + 0.4
    [row] = rows(factory)
    assert row.status == "pending"
    assert row.attempts == 0
    assert row.lease_until is None
    assert row.last_error.startswith("rasa: unreachable")


def test_a_refusal_4xx_is_retried_with_back_off(db: TestDB, session: Session) -> None:
    factory = make_session_factory(db.engine)
    partner = new_partner(session)
    session.commit()
    enqueue(session, partner, key="n:1")
    with fake_rasa() as rasa:
        rasa.fail_with, rasa.fail_paths = 404, ("trigger_intent",)
        run_notifier(
            notifier_for(factory, rasa.url, backoff_base=0.3), lambda: len(rasa.triggers) >= 2
        )
    [row] = rows(factory)
    assert row.status == "pending"
    assert row.last_error_code == 404
    assert rasa.triggers[1].at - rasa.triggers[0].at >= 0.25


def test_no_more_than_the_cap_per_second(db: TestDB, session: Session) -> None:
    factory = make_session_factory(db.engine)
    partners = [new_partner(session) for _ in range(50)]
    session.commit()
    for index, partner in enumerate(partners):
        enqueue(session, partner, key=f"n:{index}")
    with fake_rasa() as rasa:
        notifier = notifier_for(factory, rasa.url, max_per_second=20.0, concurrency=8)
        run_notifier(notifier, _all(factory, "handed"))

    stamps = sorted(t.at for t in rasa.triggers_ok())
    assert len(stamps) == 50
    busiest = max(sum(1 for other in stamps if start <= other < start + 1.0) for start in stamps)
    assert busiest <= 21  # 20/s, and one of slack for the clocks of client and server
    assert stamps[-1] - stamps[0] >= 49 / 20 * 0.9


def test_one_trigger_per_partner_per_interval(db: TestDB, session: Session) -> None:
    factory = make_session_factory(db.engine)
    busy, other = new_partner(session), new_partner(session)
    session.commit()
    for index in range(4):  # no group key: four separate messages
        enqueue(session, busy, key=f"busy:{index}")
    enqueue(session, other, key="other:0")
    with fake_rasa() as rasa:
        notifier = notifier_for(factory, rasa.url, partner_interval=0.5)
        run_notifier(notifier, _all(factory, "handed"))

    busy_times = sorted(t.at for t in rasa.triggers_ok() if t.wa_id == busy.wa_id)
    assert len(busy_times) == 4
    gaps = [b - a for a, b in itertools.pairwise(busy_times)]
    assert min(gaps) >= 0.45, gaps
    # The other partner did not wait for the busy one.
    other_time = next(t.at for t in rasa.triggers_ok() if t.wa_id == other.wa_id)
    assert other_time < busy_times[1]


def test_a_partners_slot_beyond_the_lease_goes_back_to_pending(
    db: TestDB, session: Session
) -> None:
    factory = make_session_factory(db.engine)
    partner = new_partner(session)
    session.commit()
    for index in range(3):
        enqueue(session, partner, key=f"n:{index}")
    with fake_rasa() as rasa:
        # 10 s between a partner's triggers, leases of 4 s: only the first fits.
        notifier = notifier_for(
            factory, rasa.url, partner_interval=10.0, lease_seconds=4.0, lease_margin=1.0
        )
        run_notifier(notifier, lambda: len(rasa.triggers) >= 1 and _settled(factory))
    first, *others = rows(factory)
    assert first.status == "handed"
    for row in others:
        assert row.status == "pending"
        assert row.attempts == 0  # waiting for a slot is not a failed try
        assert row.not_before >= utcnow() + timedelta(seconds=5)


def _settled(factory) -> bool:
    return all(row.status in ("handed", "pending") for row in rows(factory))


class _CrashBeforeHanded(SqlOutbox):
    """The notifier 'dies' right after Rasa accepted: ``handed`` is never written."""

    def __init__(self, factory, crashed: asyncio.Event, loop: asyncio.AbstractEventLoop):
        super().__init__(factory)
        self.crashed, self.loop = crashed, loop
        self.dead = threading.Event()

    def handed(self, ids, *, delivery, now) -> None:
        self.loop.call_soon_threadsafe(self.crashed.set)
        self.dead.wait(timeout=30)  # until the process is "gone"
        raise RuntimeError("the process died before writing this")


def test_crash_after_trigger_before_handed_retriggers_the_same_ids(
    db: TestDB, session: Session
) -> None:
    factory = make_session_factory(db.engine)
    partner = new_partner(session)
    session.commit()
    for kind in ("claim_approved", "points_credited"):
        enqueue(session, partner, kind, key=f"claim:1:{kind}", group_key="CLM-1")

    with fake_rasa() as rasa:

        async def crash() -> None:
            crashed = asyncio.Event()
            outbox = _CrashBeforeHanded(factory, crashed, asyncio.get_running_loop())
            notifier = notifier_for(factory, rasa.url, outbox=outbox, lease_seconds=1.5,
                                    lease_margin=0.5)  # fmt: skip
            async with notifier.client:
                task = asyncio.create_task(notifier.run(asyncio.Event()))
                await asyncio.wait_for(crashed.wait(), timeout=10)
                task.cancel()  # SIGKILL: nothing more is written
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                outbox.dead.set()

        asyncio.run(crash())
        assert len(rasa.triggers_ok()) == 1
        assert {row.status for row in rows(factory)} == {"sending"}

        # Restarted at once: the rows are still leased by the dead notifier.
        restarted = notifier_for(factory, rasa.url, lease_seconds=1.5, lease_margin=0.5)
        run_notifier(restarted, lambda: True, after=lambda: time.sleep(0.5))
        assert len(rasa.triggers_ok()) == 1

        # After the lease (the clock moved on): leased again and triggered again, with the
        # same ids (the bot skips ids it already said), then handed.
        restarted = notifier_for(
            factory, rasa.url, lease_seconds=1.5, lease_margin=0.5,
            clock=lambda: utcnow() + timedelta(seconds=2),
        )  # fmt: skip
        run_notifier(restarted, _all(factory, "handed"))

    first, second = rasa.triggers_ok()
    assert first.notice["ids"] == second.notice["ids"] == [row.id for row in rows(factory)]
    assert first.notice["items"] == second.notice["items"]


def test_graceful_stop_finishes_in_flight_and_puts_the_rest_back(
    db: TestDB, session: Session
) -> None:
    factory = make_session_factory(db.engine)
    partners = [new_partner(session) for _ in range(12)]
    session.commit()
    for index, partner in enumerate(partners):
        enqueue(session, partner, key=f"n:{index}")
    with fake_rasa() as rasa:
        rasa.delay = 0.6
        notifier = notifier_for(factory, rasa.url, concurrency=2, max_per_second=100.0)
        run_notifier(notifier, lambda: len(rasa.triggers) >= 1)

    stored = rows(factory)
    handed = [row for row in stored if row.status == "handed"]
    pending = [row for row in stored if row.status == "pending"]
    # What was in flight when the stop came was finished; nothing is left leased.
    assert len(handed) == len(rasa.triggers_ok()) >= 2
    assert len(handed) + len(pending) == 12
    assert all(row.attempts == 0 and row.lease_until is None for row in pending)


def test_the_notifier_uses_the_rasa_token(db: TestDB, session: Session) -> None:
    factory = make_session_factory(db.engine)
    partner = new_partner(session)
    session.commit()
    enqueue(session, partner, key="n:1")
    with fake_rasa() as rasa:
        notifier: Notifier = notifier_for(factory, rasa.url)
        run_notifier(notifier, _all(factory, "handed"))
    assert all(call.query.get("token") == RASA_TOKEN for call in rasa.calls)


def test_the_rules_hold_back_what_may_not_go_now(db: TestDB, session: Session) -> None:
    """Marketing to a partner who opted out is suppressed (service still goes); marketing
    in the partner's quiet hours (21:00-08:00 local) waits until they end."""
    factory = make_session_factory(db.engine)
    opted_out = new_partner(session, opted_out=True, region="Bali")  # WITA, UTC+8
    night = new_partner(session, region="Papua")  # WIT, UTC+9
    session.commit()
    quiz = {"quiz_code": "Q1", "title_id": "Kuis", "title_en": "Quiz", "points": 50}
    enqueue(session, opted_out, "quiz_new", quiz, key="quiz:1:a")
    enqueue(session, opted_out, key="credit:1")
    enqueue(session, night, "quiz_new", quiz, key="quiz:1:b")
    # 13:30 UTC = 21:30 WITA in Bali and 22:30 WIT in Papua: quiet hours for both.
    moment = utcnow().replace(hour=13, minute=30, second=0, microsecond=0)
    session.execute(update(Notification).values(not_before=moment - timedelta(minutes=1)))
    session.commit()

    with fake_rasa() as rasa:
        notifier = notifier_for(factory, rasa.url, clock=lambda: moment)
        run_notifier(notifier, lambda: all(r.status != "sending" for r in rows(factory))
                     and len(rasa.triggers) == 1)  # fmt: skip

    [trigger] = rasa.triggers_ok()
    assert [item["kind"] for item in trigger.notice["items"]] == ["points_credited"]
    assert trigger.wa_id == opted_out.wa_id
    quiz_a, credit, quiz_b = rows(factory)
    assert quiz_a.status == "suppressed"
    assert credit.status == "handed"
    assert quiz_b.status == "pending"
    assert quiz_b.not_before == moment.replace(hour=23, minute=0)  # 08:00 WIT


def test_python_m_app_notifier_runs_and_stops_on_sigterm(
    db: TestDB, session: Session, tmp_path
) -> None:
    partner = new_partner(session)
    session.commit()
    enqueue(session, partner, key="n:1")
    factory = make_session_factory(db.engine)
    url = db.url
    if db.kind == "postgresql":
        url += "?options=" + urllib.parse.quote(db.connect_args["options"])
    with fake_rasa() as rasa:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "RASA_URL": rasa.url,
            "RASA_AUTH_TOKEN": RASA_TOKEN,
            "NOTIFIER_IDLE_SECONDS": "0.1",
            "LOG_LEVEL": "INFO",
        }
        log = tmp_path / "notifier.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.notifier"], cwd=BACKEND, env=env, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 30
                while not _all(factory, "handed")():
                    assert process.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=20) == 0, log.read_text()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    text = log.read_text()
    assert '"notifier stopped"' in text
    assert partner.wa_id not in text  # masked
    assert RASA_TOKEN not in text
