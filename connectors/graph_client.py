"""Outbound calls to the WhatsApp Cloud (Graph) API.

One pooled ``aiohttp.ClientSession`` per process (``shared_session``), created lazily
inside the running loop and closed when the server stops. Transient failures (429,
5xx, Graph throttling codes, timeouts, connection errors) are retried with
exponential back-off and full jitter; permanent ones (other 4xx, e.g. 131047 "more
than 24 hours since the partner's last message") are logged with the reason and
returned, never retried.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog

from connectors.masking import mask_id

if TYPE_CHECKING:
    from connectors.config import WhatsAppConfig

logger = structlog.get_logger(__name__)

# Graph error codes worth retrying even when the HTTP status is a 4xx:
# 1/2 API temporarily unavailable, 4 app rate limit, 80007 WABA rate limit,
# 130429 throughput limit, 131000 "something went wrong", 131016 service
# unavailable, 131056 too many messages to one user, 133004 server unavailable.
RETRYABLE_GRAPH_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004})

# Plain-words reasons for permanent errors support meets most often.
PERMANENT_REASONS: Mapping[int, str] = {
    100: "invalid parameter (check the rendered payload)",
    190: "access token expired or invalid",
    10: "permission denied for this phone number / token",
    131008: "required parameter missing",
    131009: "parameter value invalid",
    131026: "message undeliverable (no WhatsApp, old app, or the user blocked the business)",
    131030: "recipient not in the test number's allowed list",
    131031: "business account locked",
    131047: "more than 24 hours since the user's last message: send a template instead",
    131048: "spam rate limit hit",
    131049: "Meta chose not to deliver (marketing limit per user)",
    131051: "unsupported message type",
    131052: "media download error",
    131053: "media upload error",
    131062: "business-scoped user id recipients are not supported for this message",
    132000: "template parameter count mismatch",
    132001: "template does not exist in this language",
    132012: "template parameter format mismatch",
    133010: "phone number not registered",
    470: "re-engagement window closed (legacy code)",
}


@dataclass(frozen=True)
class GraphConfig:
    access_token: str
    phone_number_id: str
    base_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    timeout_seconds: float = 10.0

    @property
    def messages_url(self) -> str:
        base = self.base_url.rstrip("/")
        version = self.api_version.strip("/")
        return f"{base}/{version}/{self.phone_number_id}/messages"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential back-off with full jitter (delay ~ U(0, min(cap, base·2^n)))."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_delay, self.base_delay * (2**retry_number))
        return (rng or random).uniform(0, ceiling)


@dataclass(frozen=True)
class SendResult:
    ok: bool
    message_id: str | None = None  # the wamid on success
    http_status: int | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None
    attempts: int = 1
    retryable: bool = False

    @property
    def reason(self) -> str:
        known = PERMANENT_REASONS.get(self.error_code or -1)
        parts = [p for p in (known, self.error_title, self.error_details) if p]
        return "; ".join(parts) or (f"HTTP {self.http_status}" if self.http_status else "error")


class SharedSession:
    """One pooled ``aiohttp.ClientSession`` per event loop, for the whole process.

    Turns run on their own loop (``connectors.turn_runner``) while mark-as-read runs on
    the server's loop; a session may only be used on the loop that created it. A
    session of a finished loop is replaced (tests run one loop per test).
    """

    def __init__(self, connection_limit: int = 100) -> None:
        self._connection_limit = connection_limit
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._lock = threading.Lock()

    async def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        with self._lock:
            for other in [known for known in self._sessions if known.is_closed()]:
                del self._sessions[other]
            session = self._sessions.get(loop)
            if session is None or session.closed:
                session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=self._connection_limit),
                    headers={"Content-Type": "application/json"},
                )
                self._sessions[loop] = session
            return session

    async def close(self) -> None:
        """Close the session of the running loop."""
        with self._lock:
            session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None and not session.closed:
            await session.close()


shared_session = SharedSession()


class GraphClient:
    """Sends message payloads to ``{base}/{version}/{phone_number_id}/messages``."""

    def __init__(
        self,
        config: GraphConfig,
        retry: RetryPolicy | None = None,
        session: SharedSession | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self._session = session or shared_session
        self._sleep = sleep

    async def send(self, payload: Mapping[str, Any], attempts: int | None = None) -> SendResult:
        """POST one payload; returns the outcome (never raises for HTTP/network errors)."""
        max_attempts = max(1, attempts or self.retry.attempts)
        recipient = mask_id(payload.get("to") or payload.get("recipient"))
        kind = payload.get("type") or payload.get("status")
        result = SendResult(ok=False)
        for attempt in range(1, max_attempts + 1):
            result = await self._post_once(payload, attempt)
            if result.ok:
                logger.debug(
                    "whatsapp.send.ok",
                    recipient=recipient,
                    message_type=kind,
                    wamid=result.message_id,
                    attempts=attempt,
                )
                return result
            if not result.retryable:
                logger.error(
                    "whatsapp.send.permanent_error",
                    recipient=recipient,
                    message_type=kind,
                    http_status=result.http_status,
                    error_code=result.error_code,
                    reason=result.reason,
                    attempts=attempt,
                )
                return result
            if attempt < max_attempts:
                delay = self.retry.delay(attempt - 1)
                logger.warning(
                    "whatsapp.send.retry",
                    recipient=recipient,
                    message_type=kind,
                    http_status=result.http_status,
                    error_code=result.error_code,
                    reason=result.reason,
                    attempt=attempt,
                    delay=round(delay, 3),
                )
                await self._sleep(delay)
        logger.error(
            "whatsapp.send.gave_up",
            recipient=recipient,
            message_type=kind,
            http_status=result.http_status,
            error_code=result.error_code,
            reason=result.reason,
            attempts=max_attempts,
        )
        return result

    async def _post_once(self, payload: Mapping[str, Any], attempt: int) -> SendResult:
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        try:
            session = await self._session.get()
            async with session.post(
                self.config.messages_url, json=dict(payload), headers=headers, timeout=timeout
            ) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    body = None
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            return SendResult(
                ok=False, error_title=type(exc).__name__, attempts=attempt, retryable=True
            )
        return _result_from_response(status, body, attempt)


def _result_from_response(status: int, body: Any, attempt: int) -> SendResult:
    if 200 <= status < 300:
        return SendResult(ok=True, message_id=_wamid(body), http_status=status, attempts=attempt)
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, Mapping) else None
    retryable = status == 429 or status >= 500 or code in RETRYABLE_GRAPH_CODES
    return SendResult(
        ok=False,
        http_status=status,
        error_code=code,
        error_title=error.get("error_user_title") or error.get("message"),
        error_details=details,
        attempts=attempt,
        retryable=retryable,
    )


def _wamid(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
        value = messages[0].get("id")
        return str(value) if value is not None else None
    return None


def graph_client_for(
    config: WhatsAppConfig, session: SharedSession = shared_session
) -> GraphClient:
    """The Graph API client for a channel's (or the gateway's) configuration."""
    return GraphClient(
        GraphConfig(
            access_token=config.access_token,
            phone_number_id=config.phone_number_id,
            base_url=config.api_base_url,
            api_version=config.api_version,
            timeout_seconds=config.send_timeout_seconds,
        ),
        retry=RetryPolicy(
            attempts=config.retry_attempts,
            base_delay=config.retry_base_delay,
            max_delay=config.retry_max_delay,
        ),
        session=session,
    )
