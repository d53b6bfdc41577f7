"""Webhook bodies over the size limit get 413 before their signature is checked, and are
never read whole (the route streams its body; see connectors/request_body.py)."""

from __future__ import annotations

import asyncio

import aiohttp

from connectors.whatsapp_connector import WhatsAppInput
from tests.connectors.wa_helpers import (
    TurnRecorder,
    make_config,
    post,
    serve_channel,
    text_message_body,
    wait_until,
    wamid,
)


def make_channel(**overrides: object) -> WhatsAppInput:
    return WhatsAppInput(make_config(mark_as_read=False, **overrides))


async def test_oversized_body_is_refused_before_the_signature_check(
    http: aiohttp.ClientSession,
) -> None:
    recorder = TurnRecorder()
    async with serve_channel(make_channel(max_body_bytes=1024 * 1024), recorder) as url:
        unsigned = b"{" + b" " * (2 * 1024 * 1024) + b"}"
        async with http.post(url, data=unsigned) as resp:
            assert resp.status == 413
        # Just under the limit: read, then judged by its signature as usual.
        almost = b"{" + b" " * (1024 * 1024 - 2) + b"}"
        async with http.post(url, data=almost) as resp:
            assert resp.status == 401
        assert await post(http, url, text_message_body("6281200000001", wamid(), "halo")) == 200
        await wait_until(lambda: len(recorder.turns) == 1)


async def raw_request(url: str, head: bytes, body: bytes) -> bytes:
    """Send a request by hand (headers and only part of a body); the first response line."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 3)
    finally:
        writer.close()


async def test_oversized_body_is_refused_without_reading_it(
    http: aiohttp.ClientSession,
) -> None:
    """A 50 MB Content-Length is answered 413 while the client has sent 1 KB of it."""
    async with serve_channel(make_channel(), TurnRecorder()) as url:
        path = "/" + url.split("/", 3)[3]
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
        ).encode()
        assert (await raw_request(url, head, b"{" * 1024)).startswith(b"HTTP/1.1 413")
        # Chunked (no Content-Length): refused once 1 MB has arrived.
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
        assert (await raw_request(url, head, chunk * 17)).startswith(b"HTTP/1.1 413")
