"""Rasa channel for the WhatsApp Cloud API: ``WhatsAppInput`` and ``WhatsAppOutput``.

Configured in ``credentials.yml`` as ``connectors.whatsapp_connector.WhatsAppInput:``
(values there, or the ``WHATSAPP_*`` environment variables; see ``connectors.config``).
Rasa mounts the webhook at ``/webhooks/whatsapp/webhook``.

The webhook is received by ``connectors.ingress`` (verify, store in the durable inbound
queue, answer 200 at once); turns run in the background, in order per sender (see
``connectors.inbound_queue``). With ``ingress: gateway`` the webhooks reach a process of
their own (``python -m connectors.gateway``) and this channel only runs the turns of
what the gateway stored.
"""

from __future__ import annotations

import asyncio
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
    SendResult,
    SharedSession,
    graph_client_for,
    shared_session,
)
from connectors.inbound_queue import InboundQueue, build_inbound_queue, keep_starting
from connectors.ingress import WebhookIngress
from connectors.masking import mask_id
from connectors.notice_reporter import NoticeReporter, default_notice_reporter, notification_ids
from connectors.rasa_speedups import install as install_rasa_speedups
from connectors.status_recorder import StatusRecorder, default_status_recorder
from connectors.turn_runner import TurnRunner
from connectors.turn_scheduler import GiveUp, Handler
from connectors.whatsapp_payloads import (
    InboundMessage,
    to_rasa_metadata,
    to_rasa_text,
)
from connectors.whatsapp_render import (
    KNOWN_CUSTOM_KEYS,
    RenderError,
    RenderOptions,
    render_response,
)

logger = structlog.get_logger(__name__)
install_rasa_speedups()  # Rasa imports this module when it loads the channel

CHANNEL_NAME = "whatsapp"
QueueFactory = Callable[[Handler, GiveUp, WhatsAppConfig], InboundQueue]


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
        reporter: NoticeReporter | None = None,
    ) -> None:
        self.client = client
        self.status_recorder = status_recorder or default_status_recorder
        self.options = options or RenderOptions()
        self.reporter = reporter or default_notice_reporter

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
        results = await self._send(recipient_id, message)
        notices = notification_ids(message)
        if notices:  # a program notice: the backend learns what WhatsApp answered
            await self.reporter.report_send(message, results)
        return results

    async def _send(self, recipient_id: str, message: Mapping[str, Any]) -> list[SendResult]:
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
        self.graph_client = graph_client_for(config, self._session)
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
        self.ingress = WebhookIngress(
            channel.config, self.queue, channel.status_recorder, channel.graph_client
        )
        self.turns = TurnRunner() if channel.config.turns_in_thread else None
        self._app: Any = None
        self._starting: asyncio.Future[None] | None = None

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
            self._starting = asyncio.ensure_future(
                keep_starting(self.queue, 1.0, wait_first=True)
            )

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

    def verify(self, request: Request) -> HTTPResponse:
        return self.ingress.verify(request)

    async def receive(self, request: Request) -> HTTPResponse:
        return await self.ingress.receive(request)

    async def accept(self, body: bytes) -> HTTPResponse:
        return await self.ingress.accept(body)

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
        await self.ingress.close(timeout)
