"""Parsing of real-shaped Cloud API webhooks (tests/data/whatsapp/*.json) and their
mapping to Rasa text and metadata (docs/contracts.md, "Connector ⇄ Rasa")."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from connectors.whatsapp_payloads import (
    Ignored,
    InboundMessage,
    StatusUpdate,
    parse_webhook,
    sanitize_free_text,
    to_rasa_metadata,
    to_rasa_text,
)
from tests.connectors.wa_helpers import DATA_DIR, PHONE_NUMBER_ID, load_fixture

BUDI = "6281200000001"


def only_message(name: str) -> InboundMessage:
    updates = parse_webhook(load_fixture(name))
    assert len(updates) == 1, updates
    assert isinstance(updates[0], InboundMessage), updates[0]
    return updates[0]


# fixture → (sender_id, type, text Rasa receives)
MESSAGE_CASES: list[tuple[str, str, str, str]] = [
    ("text", BUDI, "text", "Halo, poin saya berapa ya?"),
    ("text_slash", BUDI, "text", 'redeem_reward{"points": 999999}'),
    ("text_slash_space", BUDI, "text", "approve_claim"),
    ("text_slash_only", BUDI, "text", "?"),
    ("button_reply", BUDI, "interactive", "/check_balance"),
    ("list_reply", "6281200000002", "interactive", '/redeem_reward{"reward_code": "VCH-50K"}'),
    ("template_button", "6281200000003", "button", "/claim_status"),
    (
        "image",
        BUDI,
        "image",
        '/share_media{"media_id": "1234567890123456", "media_type": "image", '
        '"caption": "Invoice INV-2024-0012"}',
    ),
    (
        "document",
        BUDI,
        "document",
        '/share_media{"media_id": "2234567890123456", "media_type": "document", '
        '"caption": "Faktur November"}',
    ),
    (
        "location",
        BUDI,
        "location",
        '/share_location{"latitude": -6.1753924, "longitude": 106.8271528}',
    ),
    ("audio", BUDI, "audio", '/unsupported_message{"message_type": "audio"}'),
    ("video", BUDI, "video", '/unsupported_message{"message_type": "video"}'),
    ("sticker", BUDI, "sticker", '/unsupported_message{"message_type": "sticker"}'),
    ("reaction", BUDI, "reaction", '/unsupported_message{"message_type": "reaction"}'),
    ("contacts", BUDI, "contacts", '/unsupported_message{"message_type": "contacts"}'),
    ("unsupported", BUDI, "unsupported", '/unsupported_message{"message_type": "unsupported"}'),
    ("system", BUDI, "system", '/unsupported_message{"message_type": "system"}'),
    ("order", BUDI, "order", '/unsupported_message{"message_type": "order"}'),
    (
        "interactive_flow",
        BUDI,
        "interactive",
        '/unsupported_message{"message_type": "interactive"}',
    ),
    ("user_id_only", "ID.13491208655302741918", "text", "Halo, mau daftar"),
    ("user_id_with_phone", "6281200000004", "text", "Halo"),
]


@pytest.mark.parametrize(("fixture", "sender", "msg_type", "rasa_text"), MESSAGE_CASES)
def test_message_fixtures_parse_to_one_message(
    fixture: str, sender: str, msg_type: str, rasa_text: str
) -> None:
    message = only_message(fixture)
    assert message.sender_id == sender
    assert message.type == msg_type
    assert message.message_id.startswith("wamid.")
    assert message.phone_number_id == PHONE_NUMBER_ID
    assert to_rasa_text(message) == rasa_text


@pytest.mark.parametrize(("fixture", "sender", "msg_type", "rasa_text"), MESSAGE_CASES)
def test_metadata_on_every_message(
    fixture: str, sender: str, msg_type: str, rasa_text: str
) -> None:
    message = only_message(fixture)
    meta = to_rasa_metadata(message)["whatsapp"]
    for key in ("message_id", "timestamp", "type", "profile_name", "phone_number_id"):
        assert key in meta
    assert meta["message_id"] == message.message_id
    assert meta["type"] == msg_type
    assert meta["phone_number_id"] == PHONE_NUMBER_ID
    assert isinstance(meta["timestamp"], int)
    json.dumps(meta)  # must be JSON-serialisable: it is stored in the tracker


def test_every_message_text_that_is_a_command_comes_from_the_connector() -> None:
    """Only the connector's own commands and button payloads may start with '/'."""
    for fixture, _, msg_type, rasa_text in MESSAGE_CASES:
        if rasa_text.startswith("/"):
            assert msg_type != "text", fixture


def test_text_fields_and_profile_name() -> None:
    message = only_message("text")
    assert message.text == "Halo, poin saya berapa ya?"
    assert message.wa_id == BUDI
    assert message.profile_name == "Budi Santoso"
    assert message.timestamp == 1732500000
    assert to_rasa_metadata(message)["whatsapp"]["profile_name"] == "Budi Santoso"


def test_button_reply_keeps_title_and_context() -> None:
    message = only_message("button_reply")
    assert message.subtype == "button_reply"
    assert message.payload == "/check_balance"
    assert message.text == "Cek poin"
    assert message.context is not None and message.context.message_id
    meta = to_rasa_metadata(message)["whatsapp"]
    assert meta["reply"] == {"id": "/check_balance", "title": "Cek poin", "description": None}
    assert meta["context"]["message_id"] == message.context.message_id


def test_list_reply_description() -> None:
    message = only_message("list_reply")
    assert message.subtype == "list_reply"
    assert message.text == "Voucher belanja 50rb"
    assert message.description == "5.000 poin"
    assert message.profile_name == "Sarah Wijaya"


def test_template_quick_reply_button() -> None:
    message = only_message("template_button")
    assert message.payload == "/claim_status"
    assert message.text == "Lihat status klaim"


def test_image_media_and_caption_reach_metadata() -> None:
    message = only_message("image")
    assert message.media is not None
    assert message.media.id == "1234567890123456"
    assert message.media.mime_type == "image/jpeg"
    assert message.media.caption == "Invoice INV-2024-0012"
    assert message.media.sha256
    media = to_rasa_metadata(message)["whatsapp"]["media"]
    assert media["caption"] == "Invoice INV-2024-0012"
    assert media["mime_type"] == "image/jpeg"
    assert media["id"] == "1234567890123456"


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("foto rak \"display\" {toko}\nbaris 2", 'foto rak "display" {toko}\nbaris 2'),
        ("x" * 2000, "x" * 1024),
    ],
)
def test_share_media_carries_the_caption_safely(caption, expected) -> None:
    """A caption becomes the ``caption`` entity, JSON-quoted (never breaks the command)."""
    body = load_fixture("image")
    image = body["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
    image.pop("caption", None)
    if caption is not None:
        image["caption"] = caption
    [message] = parse_webhook(body)
    text = to_rasa_text(message)
    assert text.startswith("/share_media{") and "\n" not in text
    entities = json.loads(text[len("/share_media"):])
    assert entities.get("caption") == expected
    assert entities["media_id"] == "1234567890123456"


def test_document_filename() -> None:
    message = only_message("document")
    assert message.media is not None
    assert message.media.filename == "INV-2024-0013.pdf"
    assert message.media.mime_type == "application/pdf"
    assert to_rasa_metadata(message)["whatsapp"]["media"]["filename"] == "INV-2024-0013.pdf"


def test_location_details() -> None:
    message = only_message("location")
    assert message.location is not None
    assert message.location.latitude == pytest.approx(-6.1753924)
    assert message.location.name == "Toko Sinar Jaya"
    assert to_rasa_metadata(message)["whatsapp"]["location"]["address"].startswith("Jl.")


def test_audio_is_voice_note() -> None:
    message = only_message("audio")
    assert message.media is not None and message.media.voice is True


def test_reaction_keeps_emoji_and_target() -> None:
    message = only_message("reaction")
    assert message.text == "\U0001f44d"
    assert message.context is not None and message.context.message_id.startswith("wamid.")


def test_unsupported_keeps_errors() -> None:
    message = only_message("unsupported")
    assert [e.code for e in message.errors] == [131051]
    assert to_rasa_metadata(message)["whatsapp"]["errors"][0]["code"] == 131051


def test_system_message_without_contacts() -> None:
    message = only_message("system")
    assert message.subtype == "user_changed_number"
    assert message.profile_name is None


def test_user_id_only_sender() -> None:
    """Username adopters may have no phone number: the user id becomes the sender id."""
    message = only_message("user_id_only")
    assert message.wa_id is None
    assert message.user_id == "ID.13491208655302741918"
    assert message.sender_id == "ID.13491208655302741918"
    assert message.profile_name == "Dewi"
    assert message.username == "dewi.toko"
    meta = to_rasa_metadata(message)["whatsapp"]
    assert meta["user_id"] == "ID.13491208655302741918"
    assert meta["wa_id"] is None


def test_wa_id_preferred_over_user_id() -> None:
    message = only_message("user_id_with_phone")
    assert message.sender_id == "6281200000004"
    assert message.user_id == "ID.99887766554433221100"


STATUS_CASES = [
    ("status_sent", "sent", "6281200000001", ()),
    ("status_delivered", "delivered", "6281200000001", ()),
    ("status_read", "read", "6281200000001", ()),
    ("status_failed_131047", "failed", "6281200000003", (131047,)),
    ("status_failed_131026", "failed", "6289900000000", (131026,)),
    ("status_user_id_only", "delivered", "ID.13491208655302741918", ()),
]


@pytest.mark.parametrize(("fixture", "state", "recipient", "codes"), STATUS_CASES)
def test_status_fixtures(fixture: str, state: str, recipient: str, codes: tuple[int, ...]) -> None:
    updates = parse_webhook(load_fixture(fixture))
    assert len(updates) == 1
    status = updates[0]
    assert isinstance(status, StatusUpdate)
    assert status.status == state
    assert status.recipient_id == recipient
    assert status.message_id.startswith("wamid.")
    assert tuple(e.code for e in status.errors) == codes
    if codes:
        assert all(e.title for e in status.errors)


def test_failed_status_error_details() -> None:
    (status,) = parse_webhook(load_fixture("status_failed_131047"))
    assert isinstance(status, StatusUpdate)
    assert status.errors[0].title == "Re-engagement message"
    assert "24 hours" in (status.errors[0].details or "")


def test_batched_webhook_keeps_everything_in_order() -> None:
    updates = parse_webhook(load_fixture("batched"))
    messages = [u for u in updates if isinstance(u, InboundMessage)]
    statuses = [u for u in updates if isinstance(u, StatusUpdate)]
    assert not [u for u in updates if isinstance(u, Ignored)]
    assert [(m.sender_id, m.type) for m in messages] == [
        ("6281200000001", "text"),
        ("6281200000002", "text"),
        ("6281200000001", "text"),
        ("6281200000003", "image"),
        ("6281200000003", "text"),
    ]
    assert [m.profile_name for m in messages] == [
        "Budi Santoso",
        "Sarah Wijaya",
        "Budi Santoso",
        "Andi Pratama",
        "Andi Pratama",
    ]
    assert [s.status for s in statuses] == ["delivered", "read", "sent", "failed"]
    assert statuses[-1].errors[0].code == 131026
    assert len({m.message_id for m in messages}) == 5


MALFORMED: dict[str, Any] = json.loads((DATA_DIR / "malformed.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_shapes_never_raise_and_produce_no_turn(case: str) -> None:
    updates = parse_webhook(MALFORMED[case])
    assert updates, "something must be reported for the log"
    assert all(isinstance(u, Ignored) for u in updates), updates
    assert all(u.reason for u in updates)


@pytest.mark.parametrize("body", [None, 42, "", [], {}, {"entry": None}, {"entry": [None]}])
def test_odd_bodies(body: Any) -> None:
    assert all(isinstance(u, Ignored) for u in parse_webhook(body))


def test_unknown_type_is_answered_politely() -> None:
    body = load_fixture("text")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "ephemeral"
    message.pop("text")
    (parsed,) = parse_webhook(body)
    assert isinstance(parsed, InboundMessage)
    assert to_rasa_text(parsed) == '/unsupported_message{"message_type": "ephemeral"}'


def test_unknown_type_name_is_sanitised() -> None:
    body = load_fixture("text")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["type"] = 'x"}/restart'
    (parsed,) = parse_webhook(body)
    assert isinstance(parsed, InboundMessage)
    assert to_rasa_text(parsed) == '/unsupported_message{"message_type": "unknown"}'


def test_unknown_fields_are_ignored() -> None:
    body = load_fixture("text")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["brand_new_field"] = {"x": 1}
    body["entry"][0]["changes"][0]["value"]["brand_new_array"] = [1, 2]
    (parsed,) = parse_webhook(body)
    assert isinstance(parsed, InboundMessage)
    assert parsed.text == "Halo, poin saya berapa ya?"


def test_media_without_id_is_not_shared() -> None:
    body = load_fixture("image")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["image"].pop("id")
    (parsed,) = parse_webhook(body)
    assert isinstance(parsed, InboundMessage)
    assert to_rasa_text(parsed) == '/unsupported_message{"message_type": "image"}'


def test_parsed_values_are_frozen() -> None:
    message = only_message("text")
    with pytest.raises(FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/restart", "restart"),
        ("//restart", "restart"),
        (" /restart", "restart"),
        ("\u3000/\t/restart", "restart"),  # ideographic space: str.strip() removes it too
        ("/ /", "?"),
        ("", "?"),
        ("   ", "?"),
        ("halo /restart", "halo /restart"),
        ("Poin saya?", "Poin saya?"),
    ],
)
def test_sanitize_free_text(typed: str, expected: str) -> None:
    cleaned = sanitize_free_text(typed)
    assert cleaned == expected
    # What Rasa does before checking for an intent command:
    assert not cleaned.strip().startswith("/")
