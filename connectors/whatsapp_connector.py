"""Rasa channel for the WhatsApp Cloud API: ``WhatsAppInput`` and ``WhatsAppOutput``.

Configured in ``credentials.yml`` as ``connectors.whatsapp_connector.WhatsAppInput:``
(values there, or the ``WHATSAPP_*`` environment variables; see ``connectors.config``).
Rasa mounts the webhook at ``/webhooks/whatsapp/webhook``.

A POST larger than ``max_body_bytes`` is refused (413) before it is read; the rest is
verified (``X-Hub-Signature-256``), parsed, stored in the durable inbound queue (which
also de-duplicates) and answered 200 at once; turns run in the background, in order per
sender (see ``connectors.inbound_queue``). Nothing a partner or Meta sends turns into a
500, which would make Meta resend it for days; a message that cannot be stored gets a
503, so Meta does resend it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import structlog
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.apology import DEFAULT_LANGUAGE, LANGUAGE_SLOT, apology_text, language_of
from connectors.config import WhatsAppConfig
from connectors.graph_client import (
    GraphClient,
    GraphConfig,
    RetryPolicy,
    SendResult,
    SharedSession,
    shared_session,
)
from connectors.inbound_queue import (
    InboundQueue,
    QueueLimits,
)
from connectors.masking import mask_id
from connectors.rasa_speedups import install as install_rasa_speedups
from connectors.request_body import read_body, refuse_rest_of_body
from connectors.signature import SIGNATURE_HEADER, SignatureCheck, verify_signature
from connectors.status_recorder import StatusRecorder, default_status_recorder
from connectors.turn_runner import TurnRunner
from connectors.turn_scheduler import GiveUp, Handler, TurnPolicy
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
install_rasa_speedups()  # Rasa imports this module when it loads the channel

CHANNEL_NAME = "whatsapp"
QueueFactory = Callable[[Handler, GiveUp, WhatsAppConfig], InboundQueue]


def build_inbound_queue(handler: Handler, give_up: GiveUp, config: WhatsAppConfig) -> InboundQueue:
    """Redis streams when ``queue_redis_url`` is set, else the SQLite journal."""
    limits = QueueLimits(
        max_pending=config.max_pending, max_pending_per_sender=config.max_pending_per_sender
    )
    policy = TurnPolicy(
        attempts=max(1, config.turn_attempts),
        base_delay=config.turn_retry_base_delay,
        max_delay=config.turn_retry_max_delay,
        timeout=config.turn_timeout_seconds,
    )
    if config.queue_redis_url:
        from connectors.redis_queue import RedisStreamQueue

        return RedisStreamQueue(
            handler, give_up, url=config.queue_redis_url, key_prefix=config.queue_key_prefix,
            partitions=config.queue_partitions, lease_seconds=config.queue_lease_seconds,
            limits=limits, policy=policy, max_concurrency=config.max_concurrent_turns,
            retention_seconds=config.dedup_ttl_seconds,
        )
    from connectors.sqlite_queue import SqliteInboundQueue

    return SqliteInboundQueue(
        handler, give_up, path=config.queue_path, synchronous=config.queue_synchronous,
        limits=limits, policy=policy, max_concurrency=config.max_concurrent_turns,
        retention_seconds=config.dedup_ttl_seconds,
    )


class AgentNotReadyError(RuntimeError):
    """Rasa has no model loaded: the turn would be dropped silently, so it is retried."""


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
        queue_factory: QueueFactory = build_inbound_queue,
        session: SharedSession | None = None,
        render_options: RenderOptions | None = None,
    ) -> None:
        self.config = config
        self.status_recorder = status_recorder or default_status_recorder
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
        webhook = WhatsAppWebhook(self, on_new_message)
        self.webhook = webhook
        bp = Blueprint("whatsapp_webhook")

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return webhook.verify(request)

        # Streamed: the handler reads the body itself, so an oversized one is refused
        # from its Content-Length (or after max_body_bytes), never buffered whole.
        @bp.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await webhook.receive(request)

        @bp.listener("after_server_start")
        async def resume(app: Any, _loop: Any) -> None:
            # After Rasa's own before_server_start listeners: the agent is loaded.
            await webhook.start(app)

        @bp.listener("before_server_stop")
        async def drain(_app: Any, _loop: Any) -> None:
            await webhook.close()

        @bp.listener("after_server_stop")
        async def close_session(_app: Any, _loop: Any) -> None:
            await self._session.close()

        return bp


class WhatsAppWebhook:
    """The state behind one mounted webhook: the inbound queue and background tasks."""

    def __init__(
        self,
        channel: WhatsAppInput,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        self.channel = channel
        self.config = channel.config
        self.on_new_message = on_new_message
        self.queue = channel._queue_factory(self.run_turn, self.apologize, channel.config)
        self.turns = TurnRunner() if channel.config.turns_in_thread else None
        self._app: Any = None
        self._starting: asyncio.Future[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    async def start(self, app: Any = None) -> None:
        """Resume what an earlier process left pending in the queue. If the queue's
        storage is unreachable now (Redis down), keep trying in the background: webhooks
        get 503 meanwhile, and pending work resumes as soon as it is back."""
        self._app = app
        self._check_lock_store()
        try:
            await self.queue.start()
        except Exception as exc:
            logger.error("whatsapp.queue.start_failed", error=f"{type(exc).__name__}: {exc}")
            self._starting = asyncio.ensure_future(self._keep_starting())

    def _check_lock_store(self) -> None:
        """Turns run on two threads here (see connectors.lock_store): say so when Rasa's
        lock store is the one that is not safe for that."""
        store = getattr(self._agent(), "lock_store", None)
        if self.turns is not None and type(store) is InMemoryLockStore:
            logger.warning(
                "whatsapp.lock_store.not_thread_safe",
                fix="endpoints.yml: lock_store: {type: "
                "connectors.lock_store.ThreadSafeInMemoryLockStore}",
            )

    async def _keep_starting(self, delay: float = 1.0) -> None:
        while True:
            await asyncio.sleep(delay)
            try:
                await self.queue.start()
            except Exception as exc:
                delay = min(delay * 2, 30.0)
                logger.error("whatsapp.queue.start_failed", error=f"{type(exc).__name__}: {exc}")
            else:
                logger.info("whatsapp.queue.start_recovered")
                return

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
                self.channel.status_recorder.record(update)
            elif isinstance(update, Ignored):
                logger.info("whatsapp.webhook.ignored", reason=update.reason, detail=update.detail)
            elif self._is_ours(update):
                messages.append(update)
        if not messages:
            return response.json({"status": "ok"})
        try:
            admission = await self.queue.put(messages)
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

    def _agent(self) -> Any:
        ctx = getattr(self._app, "ctx", None)
        return getattr(ctx, "agent", None)

    async def run_turn(self, message: InboundMessage) -> None:
        """One Rasa turn for one inbound message (called by the inbound queue)."""
        is_ready = getattr(self._agent(), "is_ready", None)
        if callable(is_ready) and not is_ready():
            raise AgentNotReadyError("Rasa has no model loaded")
        user_message = UserMessage(
            text=to_rasa_text(message),
            output_channel=self.channel.get_output_channel(),
            sender_id=message.sender_id,
            input_channel=CHANNEL_NAME,
            message_id=message.message_id,
            metadata=to_rasa_metadata(message),
        )
        await self._on_turn_loop(self.on_new_message(user_message))

    async def apologize(self, message: InboundMessage, error: BaseException | None) -> None:
        """Every attempt failed: tell the partner, in their language, to send it again."""
        await self._on_turn_loop(self._send_apology(message.sender_id))

    async def _send_apology(self, sender_id: str) -> None:
        language = await self._language(sender_id)
        results = await self.channel.get_output_channel().deliver(
            sender_id, {"text": apology_text(language)}
        )
        logger.info(
            "whatsapp.turn.apology_sent",
            sender=mask_id(sender_id),
            language=language,
            ok=bool(results) and all(r.ok for r in results),
        )

    async def _language(self, sender_id: str) -> str:
        store = getattr(self._agent(), "tracker_store", None)
        if store is None:
            return DEFAULT_LANGUAGE
        try:
            tracker = await asyncio.wait_for(store.retrieve(sender_id), 5.0)
        except Exception as exc:  # noqa: BLE001 - the store may be what failed the turn
            logger.warning("whatsapp.turn.language_unknown", error=f"{type(exc).__name__}: {exc}")
            return DEFAULT_LANGUAGE
        return language_of(tracker.get_slot(LANGUAGE_SLOT) if tracker is not None else None)

    async def _on_turn_loop(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self.turns is not None:
            return await self.turns.run(coro)
        return await coro

    async def _mark_as_read(self, message: InboundMessage) -> None:
        payload = mark_as_read_payload(message.message_id, self.config.typing_indicator)
        # One retry at most: blue ticks are not worth delaying anything for.
        await self.channel.graph_client.send(payload, attempts=2)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Let running turns finish (bounded); what did not finish stays queued."""
        timeout = self.config.shutdown_timeout_seconds
        if self._starting is not None:
            self._starting.cancel()
        await self.queue.close(timeout=timeout)
        if self.turns is not None:
            await asyncio.to_thread(
                self.turns.close, self.channel._session.close, timeout
            )
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)
