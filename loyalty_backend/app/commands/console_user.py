"""Create or update a support-console login (agents and admins), in any environment:

    python -m app.commands.console_user --email dewi@brand.co.id --name "Dewi" --role agent

The password is read from the terminal (twice, not echoed) or, for automation, from
standard input with ``--password-stdin``; it is never an argument (shell history, ps).
Outside production `make run` creates the two demo logins itself (docs/handoff.md).
"""

import argparse
import getpass
import sys

from app.core import db
from app.models.console_user import ConsoleRole
from app.services import console_auth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.commands.console_user")
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", choices=[r.value for r in ConsoleRole], default="agent")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input")
    args = parser.parse_args(argv)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    try:
        with db.get_session_factory()() as session:
            user, changed = console_auth.ensure_user(
                session, email=args.email, name=args.name, role=ConsoleRole(args.role),
                password=password, actor_name="console_user command",
            )
            session.commit()
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{user.email} ({user.role}): {'saved' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
