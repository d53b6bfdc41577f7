"""``python -m sandbox --port 8090``: run the WhatsApp sandbox."""

from __future__ import annotations

import argparse
import os
import sys

from aiohttp import web

from sandbox.app import create_app
from sandbox.logs import configure_logging
from sandbox.settings import Settings


def load_env_file(path: str) -> None:
    """KEY=VALUE lines into os.environ, never overriding what the environment already has."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            key = key.strip().removeprefix("export ").strip()
            os.environ.setdefault(key, value.strip().strip("'\""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Mitra's WhatsApp sandbox: fake Graph API, partner simulator, web phone.",
    )
    parser.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8090")))
    parser.add_argument(
        "--env-file", action="append", default=[], help="read KEY=VALUE lines (repeatable)"
    )
    parser.add_argument("--log-level", default=os.environ.get("SANDBOX_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)

    for path in args.env_file:
        load_env_file(path)
    configure_logging(args.log_level)
    host_for_url = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    settings = Settings.from_env()
    if not os.environ.get("SANDBOX_PUBLIC_URL", "").strip():
        settings.public_url = f"http://{host_for_url}:{args.port}"
    print(
        f"WhatsApp sandbox on http://{host_for_url}:{args.port}/ "
        f"(webhooks to {settings.webhook_url})",
        file=sys.stderr,
        flush=True,
    )
    web.run_app(create_app(settings), host=args.host, port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
