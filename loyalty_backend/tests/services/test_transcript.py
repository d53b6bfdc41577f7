"""Rasa tracker events -> the console's transcript (a pure function)."""

from datetime import UTC, datetime

import pytest

from app.services.transcript import SYSTEM_TEXT, last_partner_message_at, messages

T = 1_790_000_000.0


@pytest.fixture
def db() -> None:
    """No database needed: run once, not once per backend."""


def _iso(offset: float) -> str:
    return datetime.fromtimestamp(T + offset, UTC).isoformat()


EVENTS = [
    {"event": "action", "timestamp": T, "name": "action_listen"},
    {"event": "user", "timestamp": T + 1, "text": "halo, saldo saya berapa?"},
    {
        "event": "bot",
        "timestamp": T + 2,
        "text": "Saldo Anda 1.250 poin.",
        "data": {
            "buttons": [
                {"title": "Tukar poin", "payload": "/redeem"},
                {"title": "Riwayat", "payload": "/history"},
            ]
        },
    },
    {"event": "user", "timestamp": T + 3, "text": "/history"},
    {
        "event": "user",
        "timestamp": T + 4,
        "text": "/check_balance",
        "metadata": {"whatsapp": {"reply": {"id": "/check_balance", "title": "Cek saldo"}}},
    },
    {"event": "user", "timestamp": T + 5, "text": "/open_menu"},
    {
        "event": "user",
        "timestamp": T + 6,
        "text": '/share_media{"media_id": "m1", "media_type": "image", "caption": "faktur"}',
    },
    {"event": "user", "timestamp": T + 7, "text": '/share_media{"media_id": "m2"}'},
    {"event": "user", "timestamp": T + 8, "text": '/unsupported_message{"message_type": "audio"}'},
    {"event": "pause", "timestamp": T + 9},
    {
        "event": "bot",
        "timestamp": T + 10,
        "text": "Halo, saya Ayu.",
        "metadata": {"agent": {"id": 3, "name": "Ayu"}},
    },
    {"event": "bot", "timestamp": T + 11, "text": None, "data": {"custom": {"x": 1}}},
    {"event": "resume", "timestamp": T + 12},
    {"event": "slot", "timestamp": T + 13, "name": "language", "value": "id"},
]


def test_messages() -> None:
    found = messages(EVENTS)
    assert [(m["from"], m["text"], m["media"], m["agent_name"]) for m in found] == [
        ("partner", "halo, saldo saya berapa?", None, None),
        ("bot", "Saldo Anda 1.250 poin.", None, None),
        ("partner", "Riwayat", None, None),  # the title of the button with that payload
        ("partner", "Cek saldo", None, None),  # the title WhatsApp sent with the tap
        ("partner", "[tap] open_menu", None, None),
        ("partner", "faktur", {"type": "image"}, None),
        ("partner", "", {"type": "image"}, None),
        ("partner", "[audio]", {"type": "audio"}, None),
        ("system", SYSTEM_TEXT["pause"], None, None),
        ("agent", "Halo, saya Ayu.", None, "Ayu"),
        ("system", SYSTEM_TEXT["resume"], None, None),
    ]
    assert found[1]["buttons"] == ["Tukar poin", "Riwayat"]
    assert found[0]["timestamp"] == _iso(1)
    assert all(set(m) == {"from", "text", "buttons", "media", "agent_name", "timestamp"}
               for m in found)  # fmt: skip


def test_odd_events_are_skipped() -> None:
    assert messages([{"event": "user"}, "junk", {"event": "bot"}]) == [  # type: ignore[list-item]
        {"from": "partner", "text": "", "buttons": [], "media": None, "agent_name": None,
         "timestamp": None}
    ]  # fmt: skip
    assert messages([{"event": "user", "text": "/share_media{not json"}])[0]["text"] == (
        "/share_media{not json"
    )


def test_last_partner_message_at() -> None:
    assert last_partner_message_at(EVENTS) == datetime.fromtimestamp(T + 8, UTC)
    assert last_partner_message_at([{"event": "bot", "timestamp": T}]) is None


EXTERNAL = {
    "event": "user", "timestamp": T + 20, "text": "EXTERNAL: EXTERNAL_notify",
    "parse_data": {"intent": {"name": "EXTERNAL_notify"}}, "metadata": {"is_external": True},
}  # fmt: skip


def test_the_programs_own_triggers_are_not_the_partner_writing() -> None:
    """A notice, the hand-back or the no-agent notice reaches Rasa as a ``user`` event
    marked external: the partner did not write it, so the console does not show it and
    it does not open WhatsApp's 24-hour window."""
    partner_wrote = {"event": "user", "timestamp": T + 10, "text": "halo"}
    events = [partner_wrote, EXTERNAL]
    assert last_partner_message_at(events) == datetime.fromtimestamp(T + 10, UTC)
    assert last_partner_message_at([EXTERNAL]) is None
    assert [m["text"] for m in messages(events)] == ["halo"]
    unmarked = {**EXTERNAL, "metadata": None}  # older trackers: only the text says it
    assert messages([unmarked]) == [] and last_partner_message_at([unmarked]) is None
