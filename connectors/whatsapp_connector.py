"""Rasa channel for the WhatsApp Cloud API: ``WhatsAppInput`` and ``WhatsAppOutput``.

Configured in ``credentials.yml`` as ``connectors.whatsapp_connector.WhatsAppInput:``
(values there, or the ``WHATSAPP_*`` environment variables; see ``connectors.config``).
Rasa mounts the webhook at ``/webhooks/whatsapp/webhook``.

A POST is verified (``X-Hub-Signature-256``), parsed, de-duplicated, queued and
answered 200 at once; turns run in the background, in order per sender (see
``connectors.inbound_queue``). Nothing a partner or Meta sends turns into a 500,
which would make Meta resend it for days.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.config import WhatsAppConfig
from connectors.dedup import Deduplicator, build_deduplicator
from connectors.graph_client import (
    GraphClient,
    GraphConfig,
    RetryPolicy,
    SendResult,
    SharedSession,
    shared_session,
)
from connectors.inbound_queue import (
    Handler,
    InboundQueue,
    InMemoryInboundQueue,
    QueueClosedError,
    QueueFullError,
)
from connectors.masking import mask_id
from connectors.signature import SIGNATURE_HEADER, SignatureCheck, verify_signature
from connectors.status_recorder import StatusRecorder, default_status_recorder
from connectors.turn_runner import TurnRunner
from connectors.whatsapp_payloads import (
    Ignored,
    InboundMessage,
    StatusUpdate,
    parse_webhook,
    to_rasa_metadata,
    to_rasa_text,
)
from connectors.whatsapp_render import (
    KNOWN_CUSTOM_KEYS,
    RenderError,
    RenderOptions,
    mark_as_read_payload,
    render_response,
)

logger = structlog.get_logger(__name__)

CHANNEL_NAME = "whatsapp"
QueueFactory = Callable[[Handler, WhatsAppConfig], InboundQueue]


def in_memory_queue(handler: Handler, config: WhatsAppConfig) -> InboundQueue:
    return InMemoryInboundQueue(
        handler,
        max_pending=config.max_pending,
        max_concurrency=config.max_concurrent_turns,
        turn_timeout=config.turn_timeout_seconds,
    )


class WhatsAppOutput(OutputChannel):
    """Sends Rasa responses through the Graph API, each rendered payload in order."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(
        self,
        client: GraphClient,
        status_recorder: StatusRecorder | None = None,
        options: RenderOptions | None = None,
    ) -> None:
        self.client = client
        self.status_recorder = status_recorder or default_status_recorder
        self.options = options or RenderOptions()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.deliver(recipient_id, message)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.deliver(recipient_id, {"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.deliver(recipient_id, {"text": text, "buttons": buttons, **_options(kwargs)})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.deliver(recipient_id, {"image": image})

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self.deliver(recipient_id, {"attachment": attachment})

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self.deliver(recipient_id, {"custom": json_message})

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        await self.deliver(recipient_id, {"elements": list(elements)})

    async def deliver(self, recipient_id: str, message: Mapping[str, Any]) -> list[SendResult]:
        """Render and send one response; stop at the first failure to keep order."""
        custom = message.get("custom")
        if isinstance(custom, Mapping) and not (set(custom) & KNOWN_CUSTOM_KEYS):
            logger.warning("whatsapp.render.unknown_custom", keys=sorted(map(str, custom)))
        try:
            payloads = render_response(recipient_id, message, self.options)
        except RenderError as exc:
            logger.error("whatsapp.render.failed", recipient=mask_id(recipient_id), error=str(exc))
            return []
        except Exception:  # a malformed response must not break the whole turn
            logger.exception("whatsapp.render.crashed", recipient=mask_id(recipient_id))
            return []
        results: list[SendResult] = []
        for payload in payloads:
            result = await self.client.send(payload)
            results.append(result)
            if not result.ok:
                self.status_recorder.record_send_failure(recipient_id, result)
                if len(results) < len(payloads):
                    logger.warning(
                        "whatsapp.send.rest_skipped",
                        recipient=mask_id(recipient_id),
                        skipped=len(payloads) - len(results),
                    )
                break
        return results


def _options(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    # Rasa passes the rest of the response as kwargs: keep presentation options.
    custom = kwargs.get("custom")
    return {"custom": custom} if isinstance(custom, Mapping) else {}


class WhatsAppInput(InputChannel):
    """Webhook for the WhatsApp Cloud API (``/webhooks/whatsapp/webhook``)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WhatsAppInput:
        return cls(WhatsAppConfig.from_credentials(credentials))

    def __init__(
        self,
        config: WhatsAppConfig,
        *,
        status_recorder: StatusRecorder | None = None,
        deduplicator: Deduplicator | None = None,
        queue_factory: QueueFactory = in_memory_queue,
        session: SharedSession | None = None,
        render_options: RenderOptions | None = None,
    ) -> None:
        self.config = config
        self.status_recorder = status_recorder or default_status_recorder
        self._deduplicator = deduplicator
        self._queue_factory = queue_factory
        self._session = session or shared_session
        self.render_options = render_options or RenderOptions()
        self.graph_client = GraphClient(
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
            session=self._session,
        )
        self.webhook: WhatsAppWebhook | None = None

    def get_output_channel(self) -> WhatsAppOutput:
        """Used by Rasa's HTTP API (``?output_channel=whatsapp``) and for every turn."""
        return WhatsAppOutput(self.graph_client, self.status_recorder, self.render_options)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        deduplicator = self._deduplicator or build_deduplicator(
            self.config.dedup_redis_url,
            ttl_seconds=self.config.dedup_ttl_seconds,
            key_prefix=self.config.dedup_key_prefix,
        )
        webhook = WhatsAppWebhook(self, on_new_message, deduplicator)
        self.webhook = webhook
        bp = Blueprint("whatsapp_webhook")

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return webhook.verify(request)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await webhook.receive(request)

        @bp.listener("before_server_stop")
        async def drain(_app: Any, _loop: Any) -> None:
            await webhook.close()

        @bp.listener("after_server_stop")
        async def close_session(_app: Any, _loop: Any) -> None:
            await self._session.close()

        return bp


class WhatsAppWebhook:
    """The state behind one mounted webhook: dedup, inbound queue, background tasks."""

    def __init__(
        self,
        channel: WhatsAppInput,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        deduplicator: Deduplicator,
    ) -> None:
        self.channel = channel
        self.config = channel.config
        self.on_new_message = on_new_message
        self.deduplicator = deduplicator
        self.queue = channel._queue_factory(self.run_turn, channel.config)
        self.turns = TurnRunner() if channel.config.turns_in_thread else None
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
        body = request.body or b""
        header = request.headers.get(SIGNATURE_HEADER)
        check = verify_signature(self.config.app_secret, body, header)
        remote = request.remote_addr or request.ip
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
        """Record statuses, queue new messages; returns before any turn runs."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            logger.warning("whatsapp.webhook.malformed_json", error=str(exc), size=len(body))
            return response.json({"status": "ok"})

        for update in parse_webhook(data):
            if isinstance(update, StatusUpdate):
                self.channel.status_recorder.record(update)
            elif isinstance(update, Ignored):
                logger.info("whatsapp.webhook.ignored", reason=update.reason, detail=update.detail)
            elif not await self._accept_message(update):
                # Meta redelivers what we did not take; what we took is deduplicated.
                return response.json({"status": "busy"}, status=503)
        return response.json({"status": "ok"})

    async def _accept_message(self, message: InboundMessage) -> bool:
        expected = self.config.phone_number_id
        if message.phone_number_id and message.phone_number_id != expected:
            # Another business number of the same app: our replies would come from
            # the wrong number, so leave it alone.
            logger.warning(
                "whatsapp.webhook.other_phone_number",
                phone_number_id=message.phone_number_id,
                message_id=message.message_id,
            )
            return True
        if not await self.deduplicator.claim(message.message_id):
            logger.info(
                "whatsapp.webhook.duplicate",
                sender=mask_id(message.sender_id),
                message_id=message.message_id,
            )
            return True
        try:
            await self.queue.put(message)
        except (QueueFullError, QueueClosedError) as exc:
            await self.deduplicator.release(message.message_id)
            logger.error(
                "whatsapp.webhook.not_accepted",
                sender=mask_id(message.sender_id),
                message_id=message.message_id,
                reason=str(exc) or type(exc).__name__,
            )
            return False
        logger.debug(
            "whatsapp.webhook.accepted",
            sender=mask_id(message.sender_id),
            message_id=message.message_id,
            type=message.type,
        )
        if self.config.mark_as_read:
            self._spawn(self._mark_as_read(message))
        return True

    async def run_turn(self, message: InboundMessage) -> None:
        """One Rasa turn for one inbound message (called by the inbound queue)."""
        user_message = UserMessage(
            text=to_rasa_text(message),
            output_channel=self.channel.get_output_channel(),
            sender_id=message.sender_id,
            input_channel=CHANNEL_NAME,
            message_id=message.message_id,
            metadata=to_rasa_metadata(message),
        )
        turn = self.on_new_message(user_message)
        if self.turns is not None:
            await self.turns.run(turn)
        else:
            await turn

    async def _mark_as_read(self, message: InboundMessage) -> None:
        payload = mark_as_read_payload(message.message_id, self.config.typing_indicator)
        # One retry at most: blue ticks are not worth delaying anything for.
        await self.channel.graph_client.send(payload, attempts=2)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Let running turns finish (bounded), then release Redis."""
        timeout = self.config.shutdown_timeout_seconds
        await self.queue.close(timeout=timeout)
        if self.turns is not None:
            await asyncio.to_thread(
                self.turns.close, self.channel._session.close, timeout
            )
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)
        await self.deduplicator.close()
