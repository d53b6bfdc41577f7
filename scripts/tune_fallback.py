"""How the FallbackClassifier threshold trades answers for "sorry, pick from the menu".

    .venv/bin/python scripts/tune_fallback.py [models/<model>.tar.gz]

Parses every held-out example (tests/nlu/holdout.yml) and a few lines of noise with the
trained model and prints, per threshold: the share of correctly classified examples
that would still be answered, the share of misclassified ones that would fall back
instead of getting a wrong answer, and the share of noise that would fall back.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # nlu_components/

from rasa.core.agent import Agent  # noqa: E402
from rasa.model import get_latest_model  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402

NOISE = ["asdfgh", "zzz", "?", "ok ok ok 123", "hmm", "xyz abc", "...", "😀😀", "tes", "p"]
THRESHOLDS = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]


def top_intent(parse: dict) -> tuple[str, float]:
    ranking = [r for r in parse.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
    return (ranking[0]["name"], ranking[0]["confidence"]) if ranking else ("", 0.0)


async def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else get_latest_model("models")
    agent = Agent.load(model)
    examples = load_data("tests/nlu/holdout.yml").intent_examples
    scored = []
    for example in examples:
        name, confidence = top_intent(await agent.parse_message(example.get("text")))
        scored.append((name == example.get("intent"), confidence))
    noise = [top_intent(await agent.parse_message(text))[1] for text in NOISE]
    correct = [c for ok, c in scored if ok]
    wrong = [c for ok, c in scored if not ok]
    print(f"model {Path(model).name}: {len(correct)} right, {len(wrong)} wrong of {len(scored)}")
    print("threshold  right answered  wrong caught  noise caught")
    for threshold in THRESHOLDS:
        kept = sum(c >= threshold for c in correct) / max(1, len(correct))
        caught = sum(c < threshold for c in wrong) / max(1, len(wrong))
        noisy = sum(c < threshold for c in noise) / len(noise)
        print(f"{threshold:9.2f}  {kept:14.1%}  {caught:12.1%}  {noisy:12.1%}")


if __name__ == "__main__":
    asyncio.run(main())
