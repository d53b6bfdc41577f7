"""The ingress gateway: ``python -m connectors.gateway --port 5006``.

A process that only receives WhatsApp webhooks: verifies them, stores the messages in
the durable inbound queue and answers 200 (``connectors.ingress``). Rasa, started with
``WHATSAPP_INGRESS=gateway``, runs the turns of what it stored. Why a process of its
own: a Rasa turn is CPU-bound Python, and in one process every running turn holds the
GIL that the next acknowledgement needs (p99 28 ms at 200 webhooks/s with a backlog,
``bench/README.md``); here nothing competes with the acknowledgement but the other
webhooks. It serves the same paths as Rasa's channel (``/webhooks/whatsapp/webhook``),
so the reverse proxy points at this port instead.

Configuration is the channel's (``connectors.config``): the same ``WHATSAPP_*``
variables or the channel's section of ``credentials.yml``. The queue must be one Rasa
can read: the SQLite journal at the same ``WHATSAPP_QUEUE_PATH`` on this machine, or
Redis (``WHATSAPP_QUEUE_REDIS_URL``) for Rasa instances anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

import yaml
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.config import WhatsAppConfig
from connectors.graph_client import graph_client_for, shared_session
from connectors.inbound_queue import InboundQueue, build_store_only_queue, keep_starting
from connectors.ingress import WebhookIngress
from connectors.status_recorder import StatusRecorder

CHANNEL_SECTION = "connectors.whatsapp_connector.WhatsAppInput"
BASE_PATH = "/webhooks/whatsapp"


def channel_credentials(path: Path) -> dict[str, Any]:
    """The WhatsApp channel's section of a Rasa ``credentials.yml`` (may be empty)."""
    if not path.exists():
        return {}
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(document.get(CHANNEL_SECTION) or {})


def create_app(
    config: WhatsAppConfig, queue: InboundQueue | None = None,
    name: str = "mitra_whatsapp_gateway",
) -> Sanic:
    """The gateway's web app; ``queue`` defaults to the store-only queue of ``config``."""
    queue = queue or build_store_only_queue(config)
    ingress = WebhookIngress(config, queue, StatusRecorder(), graph_client_for(config))
    app = Sanic(name)
    app.config.ACCESS_LOG = False
    starting: list[asyncio.Task[None]] = []

    @app.get(f"{BASE_PATH}/")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok", "role": "gateway"})

    @app.get(f"{BASE_PATH}/webhook")
    async def verify(request: Request) -> HTTPResponse:
        return ingress.verify(request)

    @app.post(f"{BASE_PATH}/webhook", stream=True)
    async def receive(request: Request) -> HTTPResponse:
        return await ingress.receive(request)

    @app.listener("after_server_start")
    async def open_queue(_app: Sanic, _loop: Any) -> None:
        # Webhooks get 503 (Meta retries) until the queue's storage can be reached.
        starting.append(asyncio.ensure_future(keep_starting(queue, 0.5, wait_first=False)))

    @app.listener("before_server_stop")
    async def close_queue(_app: Sanic, _loop: Any) -> None:
        for task in starting:
            task.cancel()
        await ingress.close(config.shutdown_timeout_seconds)
        await queue.close(timeout=config.shutdown_timeout_seconds)
        await shared_session.close()

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.gateway",
        description="Receive WhatsApp webhooks into the inbound queue; Rasa runs the turns.",
    )
    parser.add_argument("--host", default=os.environ.get("WHATSAPP_GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("WHATSAPP_GATEWAY_PORT", "5006"))
    )
    parser.add_argument("--credentials", type=Path, default=Path("credentials.yml"))
    args = parser.parse_args(argv)
    config = WhatsAppConfig.from_credentials(channel_credentials(args.credentials))
    print(f"WhatsApp gateway on http://{args.host}:{args.port}{BASE_PATH}/webhook", flush=True)
    create_app(config).run(host=args.host, port=args.port, access_log=False, workers=1)


if __name__ == "__main__":
    main()
