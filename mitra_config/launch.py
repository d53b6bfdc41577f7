"""Start a command in Mitra's layered environment (see ``mitra_config.dotenv``).

    python -m mitra_config.launch [--require VAR,VAR] -- command [args...]
    python -m mitra_config.launch --ensure-env        # create/complete .env

``--require`` checks those secrets first (``mitra_config.secrets``) and refuses to
start, naming the variable, when one is missing or (in production) unfit.
"""

from __future__ import annotations

import argparse
import os
import sys

from mitra_config.dotenv import ensure_local_file, layered_environment
from mitra_config.secrets import InsecureSecretError, check_secrets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mitra_config.launch")
    parser.add_argument("--require", default="", help="comma-separated secrets to check")
    parser.add_argument("--ensure-env", action="store_true", help="create or complete .env")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    if args.ensure_env:
        written = ensure_local_file()
        if written:
            print(f"Wrote fresh secrets to .env: {', '.join(written)}")
        if not args.command:
            return 0

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    environment = layered_environment()
    names = [name.strip() for name in args.require.split(",") if name.strip()]
    try:
        check_secrets(names, environment)
    except InsecureSecretError as exc:
        print(f"refusing to start {command[0]}: {exc}", file=sys.stderr)
        return 2
    os.execvpe(command[0], command, environment)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
