"""The program speaks first, through every real part: a change in the backend queues a
notice in the same transaction, the notifier drains it into Rasa, action_notify says it
in the partner's language, the WhatsApp channel sends it to the sandbox and reports the
wamid, and the sandbox's status webhooks come back to the notice. Outside the 24-hour
window a template goes instead; an opted-out partner gets only service notices; killing
the notifier mid-batch neither repeats nor loses a notice.

The stack is this module's own (it moves points and runs its own notifier)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from actions.notices import render
from tests.e2e.conftest import message_text, next_message, replies_to, wait_until
from tests.support.demo import BUDI, JOKO, SARAH
from tests.support.processes import (
    BACKEND_BIN,
    BACKEND_DIR,
    ROOT,
    TURN_NICENESS,
    Process,
    Stack,
    base_env,
    kill_9,
    running,
    start_notifier,
    start_rasa,
    start_stack,
)

ADMIN_API_KEY = "test-notices-admin-key"
DOMAIN = yaml.safe_load((ROOT / "bot/domain.yml").read_text())
# Seeded distributors no other test in this module talks to (one notice each).
BATCH = [f"628130000000{n}" for n in range(1, 5)]
NEVER_WROTE = "6281300000005"


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notices-e2e")


@pytest.fixture(scope="module")
def stack(log_dir: Path) -> Iterator[Stack]:
    stack = start_stack(log_dir, gateway=True, backend_env={"ADMIN_API_KEY": ADMIN_API_KEY})
    with running(*stack.processes):
        yield stack
    stack.rasa.stop()  # the restarted one, if a test replaced it


def notifier(stack: Stack, log_dir: Path, name: str = "notifier") -> Process:
    return start_notifier(log_dir, f"sqlite:///{log_dir / 'mitra.db'}", stack.rasa.url,
                          name=name, extra_env={"NOTIFIER_LEASE_SECONDS": "10"})


def admin(stack: Stack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{stack.backend.url}/api/v1/admin{path}", json=body,
                                headers={"Authorization": f"Bearer {ADMIN_API_KEY}"},
                                timeout=10)
    response.raise_for_status()
    return response.json()


def credit(stack: Stack, wa_id: str, points: int) -> None:
    """An admin adjustment: points credited, so a `points_credited` notice is queued."""
    admin(stack, "POST", f"/partners/by-wa/{wa_id}/adjustments",
          {"points": points, "note": "Bonus pameran", "idempotency_key": uuid.uuid4().hex})


def queue(
    log_dir: Path, wa_id: str, kind: str, params: dict[str, Any], group_key: str | None = None
) -> None:
    """Queue one notice directly through the backend's service (as a job would)."""
    code = (
        "import json, sys\n"
        "from app.core.db import get_session_factory\n"
        "from app.models import Partner\n"
        "from app.services import notifications\n"
        "from sqlalchemy import select\n"
        "with get_session_factory()() as session, session.begin():\n"
        "    partner = session.scalars(select(Partner).where(Partner.wa_id == sys.argv[1])).one()\n"
        "    notifications.enqueue(session, partner, sys.argv[2], json.loads(sys.argv[3]),\n"
        "                          dedupe_key=sys.argv[4], group_key=sys.argv[5] or None)\n"
    )
    subprocess.run(
        [str(BACKEND_BIN / "python"), "-c", code, wa_id, kind, json.dumps(params),
         f"test:{uuid.uuid4().hex}", group_key or ""],
        cwd=BACKEND_DIR, env=base_env(DATABASE_URL=f"sqlite:///{log_dir / 'mitra.db'}"),
        check=True, capture_output=True, timeout=60,
    )


def notices_of(stack: Stack, wa_id: str) -> list[dict[str, Any]]:
    return admin(stack, "GET", f"/notifications?wa_id={wa_id}&limit=50")["items"]


def test_a_credit_is_told_in_the_partner_s_language_and_its_statuses_come_back(
    stack: Stack, log_dir: Path,
) -> None:
    # Both wrote today: inside the 24-hour window, an ordinary message.
    next_message(stack.sandbox, BUDI, text="halo")
    next_message(stack.sandbox, SARAH, text="hello")
    before = {p: len(replies_to(stack.sandbox, p)) for p in (BUDI, SARAH)}
    credit(stack, BUDI, 150)
    credit(stack, SARAH, 150)
    with running(notifier(stack, log_dir)):
        for partner, words in ((BUDI, "+150 poin"), (SARAH, "+150 points")):
            wait_until(lambda p=partner: len(replies_to(stack.sandbox, p)) > before[p], 60,
                       f"the notice to {partner}")
            [said] = replies_to(stack.sandbox, partner)[before[partner]:]
            assert words in message_text(said), message_text(said)
        # The sandbox's delivered/read webhooks reach the notice (gateway -> backend).
        wait_until(lambda: any(n["status"] in ("delivered", "read") and n["wamid"]
                               for n in notices_of(stack, BUDI)), 30, "delivery status")


def test_outside_the_window_a_template_goes(stack: Stack, log_dir: Path) -> None:
    partner = NEVER_WROTE
    credit(stack, partner, 80)
    with running(notifier(stack, log_dir, "notifier-template")):
        [sent] = wait_until(lambda: replies_to(stack.sandbox, partner), 60, "the template")
    assert sent["type"] == "template", sent
    assert sent["template"]["name"] == "mitra_points_credited"


def test_a_group_outside_the_window_goes_as_one_template_per_notice(
    stack: Stack, log_dir: Path
) -> None:
    """A template says one notice: claim approved, points credited and tier up, which
    inside the window are one message, go as three templates, one per partner slot."""
    partner = NEVER_WROTE
    before = len(replies_to(stack.sandbox, partner))
    claim = f"CLM-{uuid.uuid4().int % 1_000_000:06d}"
    for kind, params in (
        ("claim_approved", {"claim_no": claim, "points": 1250}),
        ("points_credited", {"points": 1250, "balance": 4800, "source_id": f"klaim {claim}",
                             "source_en": f"claim {claim}"}),
        ("tier_up", {"tier": "Gold"}),
    ):  # fmt: skip
        queue(log_dir, partner, kind, params, group_key=claim)
    def three_sent() -> list[dict[str, Any]] | None:
        new = replies_to(stack.sandbox, partner)[before:]
        return new if len(new) >= 3 else None

    def group_notices() -> list[dict[str, Any]]:
        return [n for n in notices_of(stack, partner) if n["group_key"] == claim]

    with running(notifier(stack, log_dir, "notifier-group-template")):
        sent = wait_until(three_sent, 90, "three templates")
        wait_until(lambda: all(n["status"] in ("sent", "delivered", "read")
                               for n in group_notices()), 30, "all three sent")  # fmt: skip
    assert [m["type"] for m in sent] == ["template"] * 3, sent
    assert [m["template"]["name"] for m in sent] == [
        "mitra_claim_approved", "mitra_points_credited", "mitra_tier_up",
    ]  # fmt: skip
    assert claim in json.dumps(sent[0]["template"])
    assert {n["delivery"] for n in group_notices()} == {"template"}
    assert len(group_notices()) == 3


def test_an_opted_out_partner_gets_service_notices_only(stack: Stack, log_dir: Path) -> None:
    next_message(stack.sandbox, JOKO, text="halo")
    before = len(replies_to(stack.sandbox, JOKO))
    queue(log_dir, JOKO, "quiz_new", {"quiz_code": "kopi-susu-101", "title_id": "Kopi Susu",
                                      "title_en": "Kopi Susu", "points": 200})  # marketing
    credit(stack, JOKO, 60)  # service
    with running(notifier(stack, log_dir, "notifier-optout")):
        wait_until(lambda: {n["kind"]: n["status"] for n in notices_of(stack, JOKO)}.get(
            "quiz_new") == "suppressed", 60, "the marketing notice suppressed")
        wait_until(lambda: len(replies_to(stack.sandbox, JOKO)) > before, 60, "the service notice")
    [said] = replies_to(stack.sandbox, JOKO)[before:]
    assert "+60 poin" in message_text(said), message_text(said)


def test_a_notifier_killed_mid_batch_repeats_and_loses_nothing(
    stack: Stack, log_dir: Path,
) -> None:
    before = {p: len(replies_to(stack.sandbox, p)) for p in BATCH}
    for partner in BATCH:
        credit(stack, partner, 40)
    first = notifier(stack, log_dir, "notifier-killed")
    try:
        wait_until(lambda: any(len(replies_to(stack.sandbox, p)) > before[p] for p in BATCH), 60,
                   "the first notice of the batch")
    finally:
        kill_9(first)
    with running(notifier(stack, log_dir, "notifier-restarted")):
        wait_until(lambda: all(len(replies_to(stack.sandbox, p)) > before[p] for p in BATCH), 90,
                   "every notice of the batch")
        # Leases of the killed notifier expire; what it had handed to Rasa is skipped by
        # the bot. Every notice is final once sent, so nothing more can come.
        wait_until(lambda: all(all(n["status"] in ("sent", "delivered", "read")
                                   for n in notices_of(stack, p)) for p in BATCH),
                   90, "every notice sent")
    for partner in BATCH:
        assert len(replies_to(stack.sandbox, partner)) - before[partner] == 1, partner


def test_rasa_down_the_notice_waits_and_goes_when_rasa_is_back(
    stack: Stack, log_dir: Path,
) -> None:
    partner = "6281300000141"  # a seeded retailer no other test here writes to
    next_message(stack.sandbox, partner, text="halo")
    before = len(replies_to(stack.sandbox, partner))
    kill_9(stack.rasa)
    credit(stack, partner, 70)
    with running(notifier(stack, log_dir, "notifier-rasa-down")):
        # The notifier tried and put the notice back (an error recorded, nothing sent).
        wait_until(lambda: any(n["kind"] == "points_credited" and n["status"] == "pending"
                               and n["last_error"] for n in notices_of(stack, partner)),
                   60, "a failed try while Rasa is down")
        assert len(replies_to(stack.sandbox, partner)) == before
        port = int(stack.rasa.url.rsplit(":", 1)[1])
        stack.rasa = start_rasa(
            log_dir, log_dir / "endpoints.yml", graph_url=stack.sandbox.url, name="rasa-2",
            extra_env={"WHATSAPP_INGRESS": "gateway", "BACKEND_URL": stack.backend.url,
                       "WHATSAPP_QUEUE_PATH": str(log_dir / "rasa-inbound.db")},
            port=port, nice=TURN_NICENESS,
        )
        wait_until(lambda: len(replies_to(stack.sandbox, partner)) > before, 120, "the notice")
    [said] = replies_to(stack.sandbox, partner)[before:]
    assert "+70 poin" in message_text(said), message_text(said)


# One notice of each service kind, each to a seeded retailer of its own (ids 110-118),
# with the params the backend's events give it.
SERVICE_NOTICES = {
    "claim_approved": {"claim_no": "CLM-000777", "points": 1250},
    "claim_rejected": {"claim_no": "CLM-000778", "reason_id": "faktur tidak ditemukan",
                       "reason_en": "invoice not found"},
    "points_credited": {"points": 300, "balance": 2450, "source_id": "klaim CLM-000777",
                        "source_en": "claim CLM-000777"},
    "tier_up": {"tier": "Gold"},
    "points_expiring": {"points": 1200, "date": "2026-12-31"},
    "redemption_fulfilled": {"redemption_no": "RDM-000101", "reward_id": "Pulsa Rp25.000",
                             "reward_en": "Airtime Rp25,000"},
    "redemption_shipped": {"redemption_no": "RDM-000102", "reward_id": "Kaos Mitra",
                           "reward_en": "Mitra T-shirt", "tracking": "JNE 0123456789"},
    "redemption_delivered": {"redemption_no": "RDM-000103", "reward_id": "Kaos Mitra",
                             "reward_en": "Mitra T-shirt"},
    "redemption_cancelled": {"redemption_no": "RDM-000104", "points": 1500},
}


def test_each_service_kind_is_one_message_in_the_partner_s_language(
    stack: Stack, log_dir: Path,
) -> None:
    partners = {kind: f"62813000{110 + n:05d}" for n, kind in enumerate(SERVICE_NOTICES)}
    before = {}
    for kind, partner in partners.items():
        next_message(stack.sandbox, partner, text="halo")  # inside the 24-hour window
        before[kind] = len(replies_to(stack.sandbox, partner))
        queue(log_dir, partner, kind, SERVICE_NOTICES[kind])
    with running(notifier(stack, log_dir, "notifier-kinds")):
        for kind, partner in partners.items():
            wait_until(lambda p=partner, k=kind: len(replies_to(stack.sandbox, p)) > before[k], 90,
                       f"the {kind} notice")
    for kind, partner in partners.items():
        language = stack.backend_get(f"/partners/by-wa/{partner}")["language"]
        [said] = replies_to(stack.sandbox, partner)[before[kind]:]
        assert message_text(said) == render(DOMAIN, kind, SERVICE_NOTICES[kind], language), kind
