"""Reading a webhook body with a size limit, without buffering an oversized one.

Sanic (which Rasa creates, with a 100 MB request limit) reads a route's whole body
before the handler runs, unless the route is streamed. The webhook route is streamed, and
these helpers refuse a body larger than the limit from its Content-Length, or as soon as
that many bytes of a chunked body arrived, before the signature is checked.
"""

from __future__ import annotations

from sanic.request import Request


async def read_body(request: Request, limit: int) -> bytes | None:
    """The raw body of a streamed request, or None as soon as it is known to exceed
    ``limit`` (from Content-Length, else while reading); the rest is never read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        return None
    stream = request.stream
    if stream is None:  # not a streamed route (a test calling receive directly)
        body = request.body or b""
        return None if len(body) > limit else body
    chunks: list[bytes] = []
    size = 0
    while (chunk := await stream.read()) is not None:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def refuse_rest_of_body(request: Request, limit: int) -> None:
    """Make Sanic close the connection instead of draining an oversized body after the
    413 (it would otherwise read and discard up to its own 100 MB limit)."""
    stream = request.stream
    if stream is not None:
        stream.request_max_size = limit
        stream.keep_alive = False
