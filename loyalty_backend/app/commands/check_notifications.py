"""Check the notices' rules: ``python -m app.commands.check_notifications --check``.

Reads ``content/notifications.yml`` (or ``--file``) and checks it the way the backend
does when it first needs it (app/services/notification_rules.py). Every problem is
printed as ``file: field: what``; the exit status is 2 when there is any. Nothing touches
the database: this is what ``make validate`` runs. Without ``--check`` it also prints
the kinds with their category and template.
"""

import argparse
import sys
from pathlib import Path

from app.services.notification_rules import RULES_FILE, NotificationRulesError, load_rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="validate only, print a summary")
    parser.add_argument("--file", type=Path, default=RULES_FILE)
    args = parser.parse_args(argv)
    try:
        rules = load_rules(args.file)
    except NotificationRulesError as exc:
        print(exc, file=sys.stderr)
        return 2
    service = sum(rule.category == "service" for rule in rules.kinds.values())
    print(
        f"notifications ok: {len(rules.kinds)} kinds ({service} service), "
        f"{len(rules.time_zones.zones)} time zones"
    )
    if not args.check:
        for kind, rule in rules.kinds.items():
            parameters = ", ".join(rule.template.parameters)
            print(f"  {kind:22} {rule.category:9} {rule.template.name}({parameters})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
