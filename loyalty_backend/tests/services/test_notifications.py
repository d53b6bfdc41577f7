"""The notification outbox (issue 21): enqueue, the rules, the lease and the reports."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import write_transaction
from app.models import ConsentRecord, Notification, Partner
from app.models.notification import NotificationStatus as NS
from app.services import notifications
from app.services.notification_rules import (
    RULES_FILE,
    NotificationRulesError,
    load_rules,
    parse_rules,
)
from app.services.notifications import Defer, RecipientView, Send, StatusReport, Suppress
from tests.utils import new_partner

NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 12:00 WIB, 13:00 WITA, 14:00 WIT
RULES = load_rules()


def _queue(
    session: Session,
    partner: Partner,
    key: str,
    kind: str = "tier_up",
    params: dict[str, Any] | None = None,
    **kwargs: Any,
) -> bool:
    with write_transaction(session):
        return notifications.enqueue(
            session,
            partner,
            kind,
            {"tier": "Gold"} if params is None else params,
            dedupe_key=key,
            now=NOW,
            **kwargs,
        )


def _rows(session: Session) -> list[Notification]:
    session.commit()
    return list(
        session.scalars(
            select(Notification).order_by(Notification.id).execution_options(populate_existing=True)
        )
    )


# --- enqueue ---------------------------------------------------------------------------


def test_enqueue_writes_one_row_per_dedupe_key(session: Session) -> None:
    partner = new_partner(session)
    assert _queue(session, partner, "tier_up:1:gold", group_key="KLM-000001")
    assert not _queue(session, partner, "tier_up:1:gold")  # the same event again
    [row] = _rows(session)
    assert (row.kind, row.category, row.status, row.params) == (
        "tier_up",
        "service",
        "pending",
        {"tier": "Gold"},
    )
    assert (row.wa_id, row.group_key, row.attempts, row.not_before) == (
        partner.wa_id,
        "KLM-000001",
        0,
        NOW,
    )


def test_enqueue_never_commits(session: Session) -> None:
    partner = new_partner(session)
    with pytest.raises(RuntimeError), write_transaction(session):
        notifications.enqueue(session, partner, "tier_up", {"tier": "Gold"}, dedupe_key="k")
        raise RuntimeError("the caller's transaction fails")
    assert _rows(session) == []


@pytest.mark.parametrize(
    ("kind", "params"),
    [("no_such_kind", {}), ("tier_up", {}), ("tier_up", {"tier": "Gold", "extra": 1})],
)
def test_enqueue_refuses_unknown_kinds_and_wrong_params(
    session: Session, kind: str, params: dict[str, Any]
) -> None:
    partner = new_partner(session)
    with pytest.raises(ValueError):
        _queue(session, partner, "k", kind, params)


# --- the rules -------------------------------------------------------------------------


class _N:
    def __init__(self, category: str) -> None:
        self.category = category


SERVICE, MARKETING = _N("service"), _N("marketing")


def _who(region: str = "DKI Jakarta", status: str = "active", opted_out: bool = False) -> Any:
    return RecipientView(region, status, opted_out)


def test_service_notices_reach_opted_out_partners_at_any_hour() -> None:
    night = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 23:00 WIB
    assert notifications.decide(SERVICE, _who(opted_out=True), night, 99) == Send()
    assert notifications.decide([SERVICE], _who(status="suspended"), night, 99) == Send()
    assert notifications.decide(SERVICE, _who(status="left"), NOW, 0) == Suppress("partner_left")


def test_a_partner_in_a_hand_off_waits_for_every_kind() -> None:
    """The bot is paused while a person handles the chat: nothing would be said."""
    with_agent = RecipientView("DKI Jakarta", "active", False, with_agent=True)
    for notice in (SERVICE, MARKETING):
        assert notifications.decide(notice, with_agent, NOW, 0) == Defer(
            NOW + notifications.WITH_AGENT_WAIT, "with_agent"
        )


def test_marketing_respects_opt_out_and_status() -> None:
    assert notifications.decide(MARKETING, _who(opted_out=True), NOW, 0) == Suppress("opted_out")
    assert notifications.decide(MARKETING, _who(status="suspended"), NOW, 0) == Suppress(
        "partner_suspended"
    )
    # A group with one marketing notice is decided as marketing.
    assert notifications.decide([SERVICE, MARKETING], _who(opted_out=True), NOW, 0) == Suppress(
        "opted_out"
    )
    assert notifications.decide(MARKETING, _who(), NOW, 0) == Send()


@pytest.mark.parametrize(
    ("region", "utc_hour", "until_utc"),
    [
        ("DKI Jakarta", 14, datetime(2026, 11, 26, 1, 0, tzinfo=UTC)),  # 21:00 WIB -> 08:00
        ("Bali", 13, datetime(2026, 11, 26, 0, 0, tzinfo=UTC)),  # 21:00 WITA
        ("Papua", 22, datetime(2026, 11, 25, 23, 0, tzinfo=UTC)),  # 07:00 WIT -> 08:00
        ("Unknown Region", 0, datetime(2026, 11, 25, 1, 0, tzinfo=UTC)),  # 07:00 WIB
    ],
)
def test_marketing_waits_out_quiet_hours_in_the_partners_zone(
    region: str, utc_hour: int, until_utc: datetime
) -> None:
    now = datetime(2026, 11, 25, utc_hour, 0, tzinfo=UTC)
    assert notifications.decide(MARKETING, _who(region), now, 0) == Defer(until_utc, "quiet_hours")
    # 20:59 local is not quiet yet.
    before = datetime(2026, 11, 25, 13, 59, tzinfo=UTC)  # 20:59 WIB
    assert notifications.decide(MARKETING, _who("DKI Jakarta"), before, 0) == Send()


def test_the_marketing_cap_defers_until_a_slot_frees() -> None:
    cap = RULES.marketing_cap.messages
    frees = NOW + timedelta(hours=3)
    assert notifications.decide(MARKETING, _who(), NOW, cap - 1) == Send()
    assert notifications.decide(MARKETING, _who(), NOW, cap, cap_frees_at=frees) == Defer(
        frees, "marketing_cap"
    )
    # A slot that frees in the night waits for the morning.
    night = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 22:00 WIB
    decision = notifications.decide(MARKETING, _who(), NOW, cap, cap_frees_at=night)
    assert decision == Defer(datetime(2026, 11, 26, 1, 0, tzinfo=UTC), "marketing_cap")
    assert notifications.decide(SERVICE, _who(), NOW, 99) == Send()


def test_opt_out_comes_from_the_flag_or_the_latest_marketing_consent(session: Session) -> None:
    flagged = new_partner(session, opted_out=True)
    assert notifications.recipient(session, flagged).opted_out
    partner = new_partner(session)
    assert not notifications.recipient(session, partner).opted_out
    with write_transaction(session):
        session.add(
            ConsentRecord(partner_id=partner.id, kind="marketing", granted=False, source="whatsapp")
        )
    assert notifications.recipient(session, partner).opted_out


def test_the_seeded_opted_out_partner_gets_service_notices_only(
    session: Session, seeded: datetime
) -> None:
    joko = session.scalars(select(Partner).where(Partner.name.like("Joko%"))).one()
    view = notifications.recipient(session, joko)
    assert view.opted_out
    assert notifications.decide(MARKETING, view, NOW, 0) == Suppress("opted_out")
    assert notifications.decide(SERVICE, view, NOW, 0) == Send()


def test_marketing_window_counts_messages_not_rows(session: Session) -> None:
    partner = new_partner(session)
    with write_transaction(session):
        for n, group in enumerate(["g1", "g1", None, None]):
            notifications.enqueue(
                session,
                partner,
                "dormant_nudge",
                {"days": n},
                dedupe_key=f"d{n}",
                group_key=group,
                now=NOW,
            )
    rows = _rows(session)
    with write_transaction(session):
        for row, hours_ago in zip(rows, (1, 1, 5, 30), strict=True):
            row.handed_at = NOW - timedelta(hours=hours_ago)
    count, frees_at = notifications.marketing_window(session, partner.id, NOW)
    assert count == 2  # the group is one message; 30 h ago is outside 24 h
    assert frees_at == NOW - timedelta(hours=5) + timedelta(hours=24)


# --- the lease -------------------------------------------------------------------------


def test_lease_groups_per_partner_and_group_key(session: Session) -> None:
    one, two = new_partner(session), new_partner(session)
    _queue(session, one, "a", "claim_approved", {"claim_no": "KLM-1", "points": 5}, group_key="K1")
    _queue(session, one, "b", group_key="K1")
    _queue(session, one, "c", "dormant_nudge", {"days": 30}, group_key="K1")  # marketing
    _queue(session, two, "d")
    groups = notifications.lease_due(session, NOW, limit=10, lease_seconds=60)
    shapes = sorted((g.partner_id, g.group_key, g.category, len(g.notices)) for g in groups)
    assert shapes == sorted(
        [(one.id, "K1", "service", 2), (one.id, "K1", "marketing", 1), (two.id, None, "service", 1)]
    )
    assert all(row.status == NS.SENDING and row.attempts == 1 for row in _rows(session))
    # Nothing is due while the lease runs; a notifier that died is replaced after it.
    assert notifications.lease_due(session, NOW + timedelta(seconds=59)) == []
    again = notifications.lease_due(session, NOW + timedelta(seconds=61))
    assert sum(len(g.notices) for g in again) == 4
    assert all(row.attempts == 2 for row in _rows(session))


def test_lease_takes_due_rows_only_and_respects_the_limit(session: Session) -> None:
    partner = new_partner(session)
    for n in range(3):
        _queue(session, partner, f"k{n}")
    with write_transaction(session):
        later = session.scalars(select(Notification).where(Notification.dedupe_key == "k2")).one()
        later.not_before = NOW + timedelta(hours=1)
    [group] = notifications.lease_due(session, NOW, limit=1)
    assert group.notices[0].params == {"tier": "Gold"}
    assert len(notifications.lease_due(session, NOW, limit=10)[0].notices) == 1
    assert notifications.lease_due(session, NOW) == []


def test_the_payload_carries_each_item_with_its_template(session: Session) -> None:
    partner = new_partner(session)
    params = {"claim_no": "KLM-000007", "points": 1250}
    _queue(session, partner, "a", "claim_approved", params, group_key="KLM-000007")
    [group] = notifications.lease_due(session, NOW)
    payload = notifications.notice_payload(group, "template")
    assert payload == {
        "ids": group.ids,
        "delivery": "template",
        "items": [
            {
                "id": group.ids[0],
                "kind": "claim_approved",
                "params": params,
                "template": {"name": "mitra_claim_approved", "parameters": ["KLM-000007", "1.250"]},
            }
        ],
    }


def _leased(session: Session, count: int = 1) -> tuple[Partner, list[int]]:
    partner = new_partner(session)
    for n in range(count):
        _queue(session, partner, f"{partner.id}:{n}", group_key="G")
    [group] = notifications.lease_due(session, NOW)
    return partner, group.ids


def test_handed_then_sent_then_statuses_move_forward_only(session: Session) -> None:
    _, ids = _leased(session, 2)
    assert notifications.mark_handed(session, ids, delivery="session", now=NOW) == 2
    assert notifications.record_send(session, ids, True, "wamid.A", None, None, NOW) == 2
    assert notifications.record_send(session, ids, True, "wamid.A", None, None, NOW) == 0
    ts = NOW + timedelta(minutes=1)
    reports = [
        StatusReport("wamid.A", "read", ts + timedelta(minutes=1)),
        StatusReport("wamid.A", "delivered", ts),  # late: never back to delivered
        StatusReport("wamid.unknown", "delivered", ts),
    ]
    assert notifications.record_statuses(session, reports) == 2
    for row in _rows(session):
        assert (row.status, row.delivery, row.wamid) == ("read", "session", "wamid.A")
        # "read" implies delivered (by then at the latest); a late "delivered" keeps it.
        assert (row.handed_at, row.sent_at) == (NOW, NOW)
        assert row.delivered_at == row.read_at == ts + timedelta(minutes=1)
    # A failed status after read changes nothing.
    notifications.record_statuses(session, [StatusReport("wamid.A", "failed", ts, 131026)])
    assert {row.status for row in _rows(session)} == {"read"}


def test_the_send_report_says_how_the_bot_sent_it(session: Session) -> None:
    """The notifier hands ``auto`` notices without a delivery; the bot chose by the
    24-hour window and the connector's report says which."""
    _, ids = _leased(session)
    assert notifications.mark_handed(session, ids, now=NOW) == 1
    [row] = _rows(session)
    assert (row.status, row.delivery) == ("handed", None)
    notifications.record_send(session, ids, True, "wamid.T", None, None, NOW, delivery="template")
    [row] = _rows(session)
    assert (row.status, row.delivery) == ("sent", "template")


def test_a_template_s_later_notices_go_again_as_templates_without_a_try(
    session: Session,
) -> None:
    """Outside the window a group goes one template at a time: the report names the
    notices the message did not carry, and they wait for the notifier again."""
    _, ids = _leased(session, 3)
    notifications.mark_handed(session, ids, now=NOW)
    report = dict(ok=True, wamid="wamid.L", error_code=None, error=None, now=NOW)
    notifications.record_send(session, ids[:1], delivery="template", later=ids[1:], **report)
    rows = {row.id: row for row in _rows(session)}
    assert (rows[ids[0]].status, rows[ids[0]].delivery) == ("sent", "template")
    for notice_id in ids[1:]:
        row = rows[notice_id]
        assert (row.status, row.delivery, row.attempts) == ("pending", "template", 0)
        assert row.not_before == NOW and row.lease_until is None
    # The same report again (the connector retried it) changes nothing more.
    notifications.record_send(session, ids[:1], delivery="template", later=ids[1:], **report)
    assert {row.id: row.status for row in _rows(session)} == {
        ids[0]: "sent", ids[1]: "pending", ids[2]: "pending"
    }
    [again] = notifications.lease_due(session, NOW)
    assert again.ids == ids[1:] and again.delivery == "template"


def test_a_failed_status_records_the_code(session: Session) -> None:
    _, ids = _leased(session)
    notifications.record_send(session, ids, True, "wamid.F", None, None, NOW)
    notifications.record_statuses(session, [StatusReport("wamid.F", "failed", NOW, 131026)])
    [row] = _rows(session)
    assert (row.status, row.last_error_code) == ("failed", 131026)


def test_a_send_reported_before_the_notifier_marks_it_handed_stays_sent(session: Session) -> None:
    _, ids = _leased(session)
    notifications.record_send(session, ids, True, "wamid.B", None, None, NOW)
    assert notifications.mark_handed(session, ids, delivery="session", now=NOW) == 0
    [row] = _rows(session)
    assert (row.status, row.handed_at) == ("sent", NOW)


def test_131047_goes_again_at_once_as_a_template(session: Session) -> None:
    _, ids = _leased(session)
    notifications.mark_handed(session, ids, delivery="session", now=NOW)
    notifications.record_send(session, ids, False, None, 131047, "re-engagement", NOW)
    [row] = _rows(session)
    assert (row.status, row.delivery, row.not_before) == ("pending", "template", NOW)
    assert (row.last_error_code, row.last_error) == (131047, "re-engagement")
    [group] = notifications.lease_due(session, NOW)
    assert group.delivery == "template"


def test_131049_waits_a_day(session: Session) -> None:
    _, ids = _leased(session)
    notifications.record_send(session, ids, False, None, 131049, "held back", NOW)
    [row] = _rows(session)
    assert (row.status, row.not_before) == ("pending", NOW + timedelta(hours=24))


@pytest.mark.parametrize("code", [130429, 131056, 503, None])
def test_rate_limits_and_server_errors_back_off(session: Session, code: int | None) -> None:
    _, ids = _leased(session)
    notifications.record_send(session, ids, False, None, code, "try later", NOW)
    [row] = _rows(session)
    assert (row.status, row.not_before) == ("pending", NOW + notifications.backoff_for(1))


@pytest.mark.parametrize("code", [131026, 131051, 100])
def test_other_codes_fail_for_good(session: Session, code: int) -> None:
    _, ids = _leased(session)
    notifications.record_send(session, ids, False, None, code, "undeliverable", NOW)
    [row] = _rows(session)
    assert (row.status, row.last_error_code) == ("failed", code)
    assert notifications.lease_due(session, NOW + timedelta(days=2)) == []


def test_release_for_retry_backs_off_and_gives_up(session: Session) -> None:
    _, ids = _leased(session)
    assert notifications.release_for_retry(session, ids, "rasa down", 10, now=NOW) == 1
    [row] = _rows(session)
    assert (row.status, row.not_before, row.last_error) == (
        "pending",
        NOW + timedelta(seconds=10),
        "rasa down",
    )
    moment = NOW
    for _ in range(notifications.MAX_ATTEMPTS):
        moment += timedelta(hours=2)
        groups = notifications.lease_due(session, moment)
        if not groups:
            break
        notifications.release_for_retry(session, groups[0].ids, "rasa down", now=moment)
    [row] = _rows(session)
    assert row.status == "failed" and row.attempts == notifications.MAX_ATTEMPTS


def test_suppress_and_defer(session: Session) -> None:
    _, ids = _leased(session, 2)
    notifications.suppress(session, ids[:1], "opted_out", now=NOW)
    notifications.defer(session, ids[1:], NOW + timedelta(hours=9), "quiet_hours")
    first, second = _rows(session)
    assert (first.status, first.last_error) == ("suppressed", "opted_out")
    assert (second.status, second.not_before, second.attempts) == (
        "pending",
        NOW + timedelta(hours=9),
        0,
    )


# --- the rules file --------------------------------------------------------------------


def _raw() -> dict[str, Any]:
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))


def test_the_committed_file_is_valid_and_maps_the_seed_regions() -> None:
    from app.initial_data import DISTRIBUTORS, REGIONS

    regions = set(REGIONS) | {region for *_, region in DISTRIBUTORS}
    listed = {r for zone in RULES.time_zones.zones.values() for r in zone.regions}
    assert regions <= listed
    assert RULES.zone_name("Bali") == "WITA" and RULES.zone_name("Papua") == "WIT"
    assert RULES.zone_name("Jawa Barat") == "WIB"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r["kinds"].pop("tier_up"), "missing kind(s) tier_up"),
        (lambda r: r["kinds"]["quiz_new"].update(category="service"), "quiz_new: only the"),
        (
            lambda r: r["kinds"]["tier_up"]["template"].update(parameters=["level"]),
            "unknown parameter 'level'",
        ),
        (lambda r: r["quiet_hours"].update(start="9pm"), "quiet_hours.start"),
        (lambda r: r["time_zones"]["zones"]["WIT"]["regions"].append("Bali"), "in both"),
        (lambda r: r.update(dormant_days=0), "dormant_days"),
    ],
)
def test_rule_file_errors_name_the_field(change: Any, problem: str) -> None:
    raw = _raw()
    change(raw)
    with pytest.raises(NotificationRulesError, match=r"notifications\.yml") as error:
        parse_rules(raw)
    assert problem in str(error.value)


def test_the_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.commands import check_notifications

    assert check_notifications.main(["--check"]) == 0
    assert "notifications ok: 14 kinds" in capsys.readouterr().out
    broken = tmp_path / "notifications.yml"
    broken.write_text("kinds: {}\n", encoding="utf-8")
    assert check_notifications.main(["--check", "--file", str(broken)]) == 2
    assert str(broken) in capsys.readouterr().err
