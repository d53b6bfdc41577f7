"""The webhook's receiving side: verify, parse, record statuses, store, answer.

Shared by the two places a webhook can arrive (``docs/architecture.md``, "Inbound path"):

- Rasa's WhatsApp channel (``connectors.whatsapp_connector``), where turns run in the
  same process (``WHATSAPP_INGRESS=rasa``, the default for one small instance);
- the ingress gateway (``python -m connectors.gateway``, ``WHATSAPP_INGRESS=gateway``),
  a process of its own that only does this and never runs a turn, so a backlog of turns
  cannot delay an acknowledgement: Rasa's CPU and GIL are elsewhere.

Nothing here imports Rasa. A POST larger than ``max_body_bytes`` is refused (413) before
it is read; the rest is verified (``X-Hub-Signature-256``), parsed, stored in the durable
inbound queue (which also de-duplicates) and answered 200. Statuses are counted here and
never reach a turn. Nothing a partner or Meta sends turns into a 500, which would make
Meta resend it for days; a message that cannot be stored gets a 503, so Meta does.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

import structlog
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.config import WhatsAppConfig
from connectors.graph_client import GraphClient
from connectors.inbound_queue import Admission
from connectors.masking import mask_id
from connectors.request_body import read_body, refuse_rest_of_body
from connectors.signature import SIGNATURE_HEADER, SignatureCheck, verify_signature
from connectors.status_recorder import StatusRecorder
from connectors.whatsapp_payloads import (
    Ignored,
    InboundMessage,
    StatusUpdate,
    parse_webhook,
)
from connectors.whatsapp_render import mark_as_read_payload

logger = structlog.get_logger(__name__)


class MessageStore(Protocol):
    """Where accepted messages go: ``InboundQueue.put``."""

    async def put(self, messages: Sequence[InboundMessage]) -> Admission: ...


class WebhookIngress:
    """Verification handshake and message webhook of one WhatsApp business number."""

    def __init__(
        self,
        config: WhatsAppConfig,
        store: MessageStore,
        status_recorder: StatusRecorder,
        graph_client: GraphClient,
    ) -> None:
        self.config = config
        self.store = store
        self.status_recorder = status_recorder
        self.graph_client = graph_client
        self._background: set[asyncio.Task[Any]] = set()

    def verify(self, request: Request) -> HTTPResponse:
        """Meta's subscription handshake: echo ``hub.challenge`` for the right token."""
        mode = request.args.get("hub.mode")
        token = request.args.get("hub.verify_token") or ""
        challenge = request.args.get("hub.challenge")
        token_ok = hmac.compare_digest(
            token.encode("utf-8"), self.config.verify_token.encode("utf-8")
        )
        if mode == "subscribe" and token_ok and challenge is not None:
            logger.info("whatsapp.webhook.verified")
            return response.text(challenge)
        logger.warning("whatsapp.webhook.verification_refused", mode=mode)
        return response.text("forbidden", status=403)

    async def receive(self, request: Request) -> HTTPResponse:
        """A streamed POST: size limit, signature, then ``accept``."""
        remote = request.remote_addr or request.ip
        limit = self.config.max_body_bytes
        body = await read_body(request, limit)
        if body is None:
            refuse_rest_of_body(request, limit)
            logger.warning(
                "whatsapp.webhook.body_too_large", remote=remote, limit=limit,
                content_length=request.headers.get("content-length"),
            )
            return response.json({"error": "body too large"}, status=413)
        header = request.headers.get(SIGNATURE_HEADER)
        check = verify_signature(self.config.app_secret, body, header)
        if check is SignatureCheck.MISSING:
            logger.warning("whatsapp.webhook.signature_missing", remote=remote)
            return response.json({"error": "signature missing"}, status=401)
        if check is SignatureCheck.INVALID:
            logger.warning("whatsapp.webhook.signature_invalid", remote=remote)
            return response.json({"error": "signature invalid"}, status=403)
        try:
            return await self.accept(body)
        except Exception:
            # Acknowledge anyway: a 500 makes Meta resend the same body for days.
            logger.exception("whatsapp.webhook.unexpected_error")
            return response.json({"status": "ok"})

    async def accept(self, body: bytes) -> HTTPResponse:
        """Record statuses, store new messages; returns before any turn runs."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            logger.warning("whatsapp.webhook.malformed_json", error=str(exc), size=len(body))
            return response.json({"status": "ok"})

        messages: list[InboundMessage] = []
        for update in parse_webhook(data):
            if isinstance(update, StatusUpdate):
                self.status_recorder.record(update)
            elif isinstance(update, Ignored):
                logger.info("whatsapp.webhook.ignored", reason=update.reason, detail=update.detail)
            elif self._is_ours(update):
                messages.append(update)
        if not messages:
            return response.json({"status": "ok"})
        try:
            admission = await self.store.put(messages)
        except Exception as exc:
            # Nothing was stored: a 503 makes Meta redeliver the body.
            logger.error(
                "whatsapp.webhook.not_stored", messages=len(messages),
                reason=f"{type(exc).__name__}: {exc}",
            )
            return response.json({"status": "busy"}, status=503)
        for message in admission.duplicates:
            logger.info(
                "whatsapp.webhook.duplicate",
                sender=mask_id(message.sender_id),
                message_id=message.message_id,
            )
        for message in admission.accepted:
            logger.debug(
                "whatsapp.webhook.accepted",
                sender=mask_id(message.sender_id),
                message_id=message.message_id,
                type=message.type,
            )
            if self.config.mark_as_read:
                self._spawn(self._mark_as_read(message))
        if admission.refused:
            for message, reason in admission.refused:
                logger.error(
                    "whatsapp.webhook.not_accepted",
                    sender=mask_id(message.sender_id),
                    message_id=message.message_id,
                    reason=reason,
                )
            # Meta redelivers the body; what we stored is then a duplicate.
            return response.json({"status": "busy"}, status=503)
        return response.json({"status": "ok"})

    def _is_ours(self, message: InboundMessage) -> bool:
        expected = self.config.phone_number_id
        if message.phone_number_id and message.phone_number_id != expected:
            # Another business number of the same app: our replies would come from
            # the wrong number, so leave it alone.
            logger.warning(
                "whatsapp.webhook.other_phone_number",
                phone_number_id=message.phone_number_id,
                message_id=message.message_id,
            )
            return False
        return True

    async def _mark_as_read(self, message: InboundMessage) -> None:
        payload = mark_as_read_payload(message.message_id, self.config.typing_indicator)
        # One retry at most: blue ticks are not worth delaying anything for.
        await self.graph_client.send(payload, attempts=2)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self, timeout: float) -> None:
        """Let the blue-tick sends still in flight finish (bounded)."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)
