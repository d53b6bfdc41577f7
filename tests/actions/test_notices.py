"""action_notify: the program's notices in the partner's language, several as ONE
message, a template outside the 24-hour window, and nothing twice when the notifier
triggers the same notices again (after a crash)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.notices import ActionNotify, already_sent, parse_notice

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "bot/domain.yml").read_text())

# The params of each kind (docs/contracts.md, "Notices the program sends first").
KIND_PARAMS = {
    "claim_approved": {"claim_no", "points"},
    "claim_rejected": {"claim_no", "reason_id", "reason_en"},
    "points_credited": {"points", "balance", "source_id", "source_en"},
    "tier_up": {"tier"},
    "points_expiring": {"points", "date"},
    "redemption_fulfilled": {"redemption_no", "reward_id", "reward_en"},
    "redemption_shipped": {"redemption_no", "reward_id", "reward_en", "tracking"},
    "redemption_delivered": {"redemption_no", "reward_id", "reward_en"},
    "redemption_cancelled": {"redemption_no", "points"},
    "quiz_new": {"quiz_code", "title_id", "title_en", "points"},
    "weekly_summary": {"points", "rank", "region"},
    "dormant_nudge": {"days"},
    "birthday_voucher": {"voucher_code", "reward_id", "reward_en"},
    "event_points": {"event_id", "event_en", "points"},
}


def notice(*items: dict[str, Any], delivery: str = "session") -> str:
    return json.dumps({"ids": [i["id"] for i in items], "delivery": delivery,
                       "items": list(items)})


def tracker(raw: str | None, language: str = "id", events: list | None = None) -> Tracker:
    return Tracker(
        sender_id="6281200000001", slots={"language": language},
        latest_message={"text": "EXTERNAL: EXTERNAL_notify",
                        "intent": {"name": "EXTERNAL_notify", "confidence": 1.0},
                        "entities": [] if raw is None else [{"entity": "notice", "value": raw}]},
        events=list(events or []), paused=False, followup_action=None, active_loop={},
        latest_action_name="action_listen",
    )


async def say(raw: str | None, language: str = "id", events: list | None = None) -> list[dict]:
    dispatcher = CollectingDispatcher()
    assert await ActionNotify().run(dispatcher, tracker(raw, language, events), DOMAIN) == []
    return dispatcher.messages


APPROVED = {"id": 11, "kind": "claim_approved", "params": {"claim_no": "CLM-000123",
                                                            "points": 1250}}
CREDITED = {"id": 12, "kind": "points_credited",
            "params": {"points": 1250, "balance": 3400, "source_id": "klaim CLM-000123",
                       "source_en": "claim CLM-000123"}}
TIER = {"id": 13, "kind": "tier_up", "params": {"tier": "Gold"}}


@pytest.mark.parametrize("kind", sorted(KIND_PARAMS))
def test_every_kind_says_its_params_in_both_languages(kind: str) -> None:
    variations = DOMAIN["responses"][f"utter_notice_{kind}"]
    texts = {("en" if v.get("condition") else "id"): v["text"] for v in variations}
    assert set(texts) == {"id", "en"}
    for text in texts.values():
        for variable in re.findall(r"\{(\w+)\}", text):
            assert variable in KIND_PARAMS[kind] or {f"{variable}_id", f"{variable}_en"} <= \
                KIND_PARAMS[kind], (kind, variable)


async def test_notices_that_arrive_together_are_one_message_in_the_partner_s_language() -> None:
    [message] = await say(notice(APPROVED, CREDITED, TIER))
    assert message["text"] == (
        "✅ Klaim CLM-000123 disetujui: +1.250 poin.\n\n"
        "🎉 +1.250 poin dari klaim CLM-000123. Saldo Anda: 3.400 poin.\n\n"
        "🏆 Selamat, tier Anda sekarang *Gold*! Ketik *tier saya* untuk melihat keuntungannya."
    )
    assert message["custom"] == {"notification": {"ids": [11, 12, 13], "delivery": "session"}}
    [english] = await say(notice(APPROVED, CREDITED), language="en")
    assert english["text"].startswith("✅ Claim CLM-000123 is approved: +1,250 points.")
    assert "for claim CLM-000123. Your balance: 3,400 points." in english["text"]


async def test_dates_read_as_partners_read_them() -> None:
    expiring = {"id": 21, "kind": "points_expiring",
                "params": {"points": 1200, "date": "2026-12-31"}}
    [message] = await say(notice(expiring))
    assert message["text"].startswith("⏳ 1.200 poin hangus 31 Des 2026")


async def test_outside_the_window_the_template_goes_instead() -> None:
    item = {**APPROVED, "template": {"name": "mitra_claim_approved",
                                     "parameters": ["CLM-000123", "1.250"]}}
    [message] = await say(notice(item, delivery="template"), language="en")
    assert "text" not in message or not message["text"]
    assert message["custom"] == {
        "whatsapp_template": {"name": "mitra_claim_approved", "language": "en",
                              "parameters": ["CLM-000123", "1.250"]},
        "notification": {"ids": [11], "delivery": "template", "later": []},
    }


async def test_a_group_outside_the_window_sends_one_template_and_hands_the_rest_back() -> None:
    """A template says one notice: claim approved goes now; points credited and tier up
    are reported as ``later`` and come again as their own templates (nothing is lost)."""
    templated = [
        {**item, "template": {"name": f"mitra_{item['kind']}", "parameters": ["x"]}}
        for item in (APPROVED, CREDITED, TIER)
    ]
    [message] = await say(notice(*templated, delivery="template"))
    assert message["custom"]["whatsapp_template"]["name"] == "mitra_claim_approved"
    assert message["custom"]["notification"] == {
        "ids": [11], "delivery": "template", "later": [12, 13],
    }  # fmt: skip


def _user(age_hours: float, **extra: Any) -> dict[str, Any]:
    return {"event": "user", "timestamp": time.time() - age_hours * 3600, "text": "halo",
            **extra}


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([_user(23.9)], "session"),
        ([_user(30), {"event": "bot", "timestamp": time.time()}], "template"),
        ([_user(24.1)], "template"),
        ([], "template"),  # never wrote
        # The program's own triggers (an earlier notice, the hand-back) are not the
        # partner writing: they do not open the window.
        ([_user(30), _user(0.1, text="EXTERNAL: EXTERNAL_notify",
                           metadata={"is_external": True})], "template"),
    ],
)
async def test_auto_picks_a_message_inside_the_24_hour_window_else_the_template(
    events: list[dict[str, Any]], expected: str
) -> None:
    item = {**APPROVED, "template": {"name": "mitra_claim_approved",
                                     "parameters": ["CLM-000123", "1.250"]}}
    [message] = await say(notice(item, delivery="auto"), events=events)
    assert message["custom"]["notification"]["ids"] == [11]
    assert message["custom"]["notification"]["delivery"] == expected
    if expected == "template":
        assert message["custom"]["whatsapp_template"]["name"] == "mitra_claim_approved"
        assert not message.get("text")
    else:
        assert "CLM-000123" in message["text"]


async def test_notices_already_in_the_conversation_are_not_sent_again() -> None:
    earlier = [{"event": "bot", "text": "…",
                "data": {"custom": {"notification": {"ids": [11, 12]}}}}]
    assert already_sent(earlier) == {11, 12}
    assert await say(notice(APPROVED, CREDITED), events=earlier) == []
    [message] = await say(notice(APPROVED, CREDITED, TIER), events=earlier)
    assert message["custom"]["notification"]["ids"] == [13]
    assert message["text"].startswith("🏆")


@pytest.mark.parametrize("raw", [None, "not json", json.dumps({"ids": [1]}),
                                 json.dumps({"items": [{"id": 1}]})])
async def test_an_unreadable_notice_says_nothing(raw: str | None) -> None:
    assert parse_notice(raw) is None
    assert await say(raw) == []
