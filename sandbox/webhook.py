"""Posting signed webhooks to the bot, the way Meta does.

Meta signs the raw body bytes; its JSON escapes non-ASCII as ``\\uXXXX`` and ``/`` as
``\\/``, so a receiver that re-serialises the parsed JSON before checking the signature
fails here exactly as it would in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

import aiohttp

from sandbox.logs import log_event, mask_text


def serialize(body: object) -> bytes:
    text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return text.replace("/", "\\/").encode()


def sign(app_secret: str, raw: bytes) -> str:
    """The ``X-Hub-Signature-256`` value: ``sha256=<hex hmac-sha256(app_secret, raw body)>``."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


def _sign_sha1(app_secret: str, raw: bytes) -> str:
    return "sha1=" + hmac.new(app_secret.encode(), raw, hashlib.sha1).hexdigest()


@dataclass(slots=True)
class Delivery:
    status: int  # HTTP status of the bot's answer; 0 when it could not be reached
    ms: float
    body: str = ""
    error: str | None = None


class WebhookPoster:
    """One pooled client session for every webhook the sandbox posts."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=200, limit_per_host=200)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        url: str,
        raw: bytes,
        app_secret: str | None,
        signature: str = "valid",
        extra_headers: dict | None = None,
    ) -> Delivery:
        """POST ``raw`` to ``url``; ``signature`` is valid, bad or none (for negative tests)."""
        await self.start()
        assert self._session is not None
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature == "valid" and app_secret is not None:
            headers["X-Hub-Signature-256"] = sign(app_secret, raw)
            headers["X-Hub-Signature"] = _sign_sha1(app_secret, raw)
        elif signature == "bad":
            headers["X-Hub-Signature-256"] = sign("not-the-app-secret", raw)
            headers["X-Hub-Signature"] = _sign_sha1("not-the-app-secret", raw)
        headers.update(extra_headers or {})
        started = time.perf_counter()
        try:
            async with self._session.post(url, data=raw, headers=headers) as response:
                text = await response.text(errors="replace")
                return Delivery(response.status, _ms(started), text[:2000])
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log_event("webhook.unreachable", logging.WARNING, url=mask_text(url), error=error)
            return Delivery(0, _ms(started), "", error)

    async def get(self, url: str, params: dict) -> Delivery:
        await self.start()
        assert self._session is not None
        started = time.perf_counter()
        try:
            async with self._session.get(url, params=params) as response:
                return Delivery(response.status, _ms(started), (await response.text())[:2000])
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return Delivery(0, _ms(started), "", f"{type(exc).__name__}: {exc}")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
