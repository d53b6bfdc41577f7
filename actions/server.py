"""Mitra's action server: rasa-sdk's app, on loopback, callable only by Rasa.

    ACTION_SERVER_TOKEN=… SERVICE_TOKEN=… python -m actions.server [--port 5055] [--host …]

What ``rasa run actions`` does (rasa_sdk.endpoint.run), plus: the bind address defaults
to 127.0.0.1 (``ACTION_SERVER_HOST`` or ``--host`` to change it), every path but
``/health`` needs ``Authorization: Bearer <ACTION_SERVER_TOKEN>``, no browser origin is
allowed (CORS), and the process will not start without usable secrets.
"""

from __future__ import annotations

import argparse
import os
import sys

import structlog
from rasa_sdk.endpoint import create_app
from rasa_sdk.plugin import plugin_manager
from rasa_sdk.utils import update_sanic_log_level
from sanic import Sanic

from actions import backend_client
from actions.auth import protect
from actions.logging_utils import configure_logging
from mitra_config.secrets import InsecureSecretError, require_secret

logger = structlog.get_logger("actions.server")

DEFAULT_PORT = 5055
LOOPBACK = "127.0.0.1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST") or LOOPBACK,
                        help="bind address (env ACTION_SERVER_HOST; default 127.0.0.1)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL") or "INFO")
    return parser.parse_args(argv)


def build_app(token: str) -> Sanic:
    """rasa-sdk's app with Mitra's actions, its plugins, and the token check."""
    app = create_app("actions", cors_origins="")
    protect(app, token)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    update_sanic_log_level()
    try:
        token = require_secret("ACTION_SERVER_TOKEN")
        backend_client.get_client()  # SERVICE_TOKEN: refuse now, not on the first action
    except InsecureSecretError as error:
        print(f"action server not started: {error}", file=sys.stderr)
        return 2
    app = build_app(token)
    if args.host != LOOPBACK:
        logger.warning("actions.server.exposed", host=args.host)
    logger.info("actions.server.start", host=args.host, port=args.port)
    # One worker: scale out with more instances behind a load balancer (DESIGN: Scale).
    app.run(host=args.host, port=args.port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
