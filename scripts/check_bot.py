"""Checks `rasa data validate` cannot make, run by `make validate`.

- every response has an Indonesian default and an English variation (`language: en`);
- every response is used by a rule/story or dispatched by an action in `actions/`
  (Rasa's validator warns about the latter; this check makes sure they really are);
- intents without NLU examples are only the ones the WhatsApp connector produces.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONNECTOR_INTENTS = {"share_media", "share_location", "unsupported_message", "nlu_fallback"}


def load_yaml_files(folder: Path) -> list[dict]:
    return [yaml.safe_load(path.read_text()) or {} for path in sorted(folder.rglob("*.yml"))]


def variation_languages(variations: list[dict]) -> set[str]:
    languages = set()
    for variation in variations:
        conditions = variation.get("condition") or []
        language = next(
            (c.get("value") for c in conditions if c.get("name") == "language"), None
        )
        languages.add(language or "id")
    return languages


def main() -> int:
    domain = yaml.safe_load((ROOT / "bot/domain.yml").read_text())
    problems: list[str] = []

    for name, variations in domain.get("responses", {}).items():
        missing = {"id", "en"} - variation_languages(variations)
        if missing:
            problems.append(f"{name}: no variation for language(s) {sorted(missing)}")

    training = load_yaml_files(ROOT / "bot/data")
    used_in_data = {
        step.get("action")
        for document in training
        for block in (document.get("rules") or []) + (document.get("stories") or [])
        for step in block.get("steps", [])
        if isinstance(step, dict)
    }
    action_code = "\n".join(p.read_text() for p in (ROOT / "actions").rglob("*.py"))
    # Any quoted response name in the actions counts: some are picked from a mapping.
    dispatched = set(re.findall(r"""["'](utter_\w+)["']""", action_code))
    # Responses an action picks by a computed name: action_notify says utter_notice_<kind>.
    dispatched_by_prefix = ("utter_notice_",)
    for name in domain.get("responses", {}):
        if name.startswith(dispatched_by_prefix):
            continue
        if name not in used_in_data and name not in dispatched:
            problems.append(f"{name}: not used by any rule, story or action")
    for name in dispatched - set(domain.get("responses", {})):
        problems.append(f"{name}: dispatched by an action but missing from the domain")

    nlu_intents = {
        block["intent"]
        for document in training
        for block in document.get("nlu") or []
        if "intent" in block
    }
    for intent in domain.get("intents", []):
        name = intent if isinstance(intent, str) else next(iter(intent))
        # EXTERNAL_* intents are triggered through Rasa's API (the backend), never typed.
        external = name.startswith("EXTERNAL_")
        if name not in nlu_intents and name not in CONNECTOR_INTENTS and not external:
            problems.append(f"intent {name}: no NLU examples")

    for problem in problems:
        print(f"check_bot: {problem}", file=sys.stderr)
    print(f"check_bot: {len(domain.get('responses', {}))} responses, "
          f"{len(nlu_intents)} intents with examples, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
