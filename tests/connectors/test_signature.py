"""Webhook authentication: X-Hub-Signature-256 on POST, the verify-token handshake on GET.

Runs the channel's blueprint in a real Sanic app on a free port, with aiohttp as client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from connectors.signature import SignatureCheck, sign, verify_signature
from connectors.whatsapp_connector import WhatsAppInput
from tests.connectors.wa_helpers import (
    APP_SECRET,
    VERIFY_TOKEN,
    WEBHOOK_PATH,
    load_fixture,
    make_config,
    new_sanic_app,
    serve_sanic,
    signed_headers,
    wait_until,
)

BODY = json.dumps(load_fixture("text")).encode()


@pytest.fixture
async def webhook(http: aiohttp.ClientSession) -> AsyncIterator[tuple[str, list[Any]]]:
    received: list[Any] = []

    async def on_new_message(message: Any) -> None:
        received.append(message)

    channel = WhatsAppInput(make_config(mark_as_read=False))
    app = new_sanic_app()
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/whatsapp")
    async with serve_sanic(app) as base_url:
        yield base_url + WEBHOOK_PATH, received


async def test_valid_signature_is_accepted(
    webhook: tuple[str, list[Any]], http: aiohttp.ClientSession
) -> None:
    url, received = webhook
    async with http.post(url, data=BODY, headers=signed_headers(BODY)) as resp:
        assert resp.status == 200
    await wait_until(lambda: len(received) == 1)
    assert received[0].sender_id == "6281200000001"


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("", 401),
        ("sha256=" + "0" * 64, 403),
        (sign("another-secret", BODY), 403),
        (sign(APP_SECRET, BODY).replace("sha256=", "sha1="), 403),
        (sign(APP_SECRET, BODY)[len("sha256=") :], 403),
        ("sha256=not-hex", 403),
    ],
    ids=["missing", "empty", "zeros", "wrong-secret", "sha1-prefix", "no-prefix", "garbage"],
)
async def test_bad_signatures_are_rejected_and_nothing_processed(
    webhook: tuple[str, list[Any]],
    http: aiohttp.ClientSession,
    header: str | None,
    status: int,
) -> None:
    url, received = webhook
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    async with http.post(url, data=BODY, headers=headers) as resp:
        assert resp.status == status
    await assert_only_the_follow_up_is_processed(url, received, http)


async def test_body_altered_after_signing_is_rejected(
    webhook: tuple[str, list[Any]], http: aiohttp.ClientSession
) -> None:
    url, received = webhook
    headers = signed_headers(BODY)
    altered = BODY.replace(b"Halo, poin saya berapa ya?", b"/approve_claim")
    async with http.post(url, data=altered, headers=headers) as resp:
        assert resp.status == 403
    # Whitespace counts too: the HMAC is over the raw bytes, not the parsed JSON.
    async with http.post(url, data=BODY + b" ", headers=headers) as resp:
        assert resp.status == 403
    await assert_only_the_follow_up_is_processed(url, received, http)


async def assert_only_the_follow_up_is_processed(
    url: str, received: list[Any], http: aiohttp.ClientSession
) -> None:
    """A valid message of the same sender, sent after the rejected ones, is processed
    after anything queued before it: once it is, a rejected body would have shown up."""
    other = BODY.replace(b"Halo, poin", b"Hai, poin").replace(b"wamid.", b"wamid.X", 1)
    async with http.post(url, data=other, headers=signed_headers(other)) as resp:
        assert resp.status == 200
    await wait_until(lambda: len(received) >= 1)
    assert [message.text for message in received] == ["Hai, poin saya berapa ya?"]


async def test_verification_handshake(
    webhook: tuple[str, list[Any]], http: aiohttp.ClientSession
) -> None:
    url, _ = webhook
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    async with http.get(url, params=params) as resp:
        assert resp.status == 200
        assert await resp.text() == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"},
        {"hub.mode": "subscribe", "hub.challenge": "42"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
        {},
    ],
    ids=["wrong-token", "no-token", "wrong-mode", "nothing"],
)
async def test_verification_refused(
    webhook: tuple[str, list[Any]], http: aiohttp.ClientSession, params: dict[str, str]
) -> None:
    url, _ = webhook
    async with http.get(url, params=params) as resp:
        assert resp.status == 403
        assert "42" not in await resp.text()


async def test_health_route(webhook: tuple[str, list[Any]], http: aiohttp.ClientSession) -> None:
    url, _ = webhook
    async with http.get(url.rsplit("/", 1)[0] + "/") as resp:
        assert resp.status == 200


def test_verify_signature_function() -> None:
    body = b'{"a": 1}'
    assert verify_signature("s", body, sign("s", body)) is SignatureCheck.VALID
    assert verify_signature("s", body, None) is SignatureCheck.MISSING
    assert verify_signature("s", body, sign("t", body)) is SignatureCheck.INVALID
    assert verify_signature("", body, sign("", body)) is SignatureCheck.INVALID
    assert verify_signature("s", body, sign("s", body).upper()) is SignatureCheck.INVALID
