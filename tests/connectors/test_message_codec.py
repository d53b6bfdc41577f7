"""Inbound messages stored in the durable queue read back equal, whatever their kind."""

from __future__ import annotations

import json

import pytest

from connectors.message_codec import CodecError, decode_message, encode_message
from connectors.whatsapp_payloads import InboundMessage, parse_webhook
from tests.connectors.wa_helpers import DATA_DIR, load_fixture

FIXTURES = sorted(path.stem for path in DATA_DIR.glob("*.json") if path.stem != "malformed")


def messages_of(name: str) -> list[InboundMessage]:
    return [u for u in parse_webhook(load_fixture(name)) if isinstance(u, InboundMessage)]


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_round_trips(name: str) -> None:
    for message in messages_of(name):
        assert decode_message(encode_message(message)) == message


def test_the_stored_form_is_compact_json_with_a_version() -> None:
    (message,) = messages_of("image")
    stored = json.loads(encode_message(message))
    assert stored["v"] == 1 and stored["media"]["kind"] == "image"
    assert "location" not in stored  # empty fields are left out


def test_unknown_keys_from_a_newer_writer_are_ignored() -> None:
    (message,) = messages_of("location")
    stored = json.loads(encode_message(message))
    stored["new_field"] = 1
    stored["location"]["altitude"] = 12
    assert decode_message(json.dumps(stored)) == message


@pytest.mark.parametrize(
    "text", ["", "not json", "[]", '{"v": 2, "message_id": "x"}', '{"v": 1, "type": "text"}']
)
def test_unreadable_rows_raise_codec_error(text: str) -> None:
    with pytest.raises(CodecError):
        decode_message(text)
