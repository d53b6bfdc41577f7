"""Does the model notice what it does not understand? Scores a trained model on messages
written the way partners type that no training file has seen (tests/nlu/unseen.yml).

    .venv/bin/python scripts/nlu_unseen.py                       # latest model in models/
    .venv/bin/python scripts/nlu_unseen.py -m var/nlu-exp/exp.tar.gz --min-accuracy 0.95

The file holds the domain's intents, `out_of_scope` (orders, deliveries, payment terms,
chit-chat...) and the pseudo-intent `noise` (keyboard mashes, laughter, "hmm"). Noise
and out-of-scope messages count as rejected, hence right, when the model predicts
`out_of_scope` or `nlu_fallback` (the bot then says so or offers the menu instead of a
wrong answer); every other message must get its own intent.

Prints in-scope intent accuracy, the rejection rates (noise, out_of_scope, both), how
many in-scope messages were rejected, per-intent accuracy and the most frequent
confusions (counts per intent pair, never the messages: the file is a test set, not
material for training data). Exits 1 when the combined rejection rate is below
--min-rejection (0.95) or the in-scope accuracy below --min-accuracy (0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

import structlog

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The pipeline's own components (nlu_components/) load from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# nlu_fallback from the NoiseFilter (confidence 1.0: not one known word)
FILTERED = "nlu_fallback (no known word)"
REJECTED = {"out_of_scope", "nlu_fallback", FILTERED}  # predictions: "not understood"
TO_REJECT = {"out_of_scope", "noise", "nlu_fallback"}  # labels that should get them


def load_examples(path: Path) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    return [(e.get("text"), e.get("intent")) for e in load_data(str(path)).intent_examples]


def resolve_model(model: str) -> str:
    from rasa.model import get_latest_model

    if Path(model).is_dir():
        latest = get_latest_model(model)
        if not latest:
            sys.exit(f"no trained model in {model}/ (run `make train`)")
        return str(latest)
    return model


async def predict(model: str, texts: list[str]) -> list[tuple[str, tuple[str, float]]]:
    """Per text: the prediction and the classifier's own top intent and confidence."""
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    predictions = []
    for text in texts:
        parse = await agent.parse_message(text)
        intent = parse.get("intent") or {}
        name = intent.get("name") or "nlu_fallback"
        if name == "nlu_fallback" and intent.get("confidence", 0.0) >= 1.0:
            name = FILTERED
        ranking = [r for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
        top = (ranking[0]["name"], ranking[0]["confidence"]) if ranking else ("", 0.0)
        predictions.append((name, top))
    return predictions


def is_right(label: str, predicted: str) -> bool:
    return predicted in REJECTED if label in TO_REJECT else predicted == label


def rate(hits: int, total: int) -> str:
    return f"{hits / total:.3f} ({hits}/{total})" if total else "-    (0/0)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default="models",
                        help="model file, or a folder whose latest model is used")
    parser.add_argument("--nlu", type=Path, default=Path("tests/nlu/unseen.yml"))
    parser.add_argument("--min-accuracy", type=float, default=0.95,
                        help="least in-scope intent accuracy")
    parser.add_argument("--min-rejection", type=float, default=0.95,
                        help="least share of noise + out_of_scope rejected")
    parser.add_argument("--top", type=int, default=15, help="confusions to list")
    parser.add_argument("--thresholds", type=lambda v: [float(t) for t in v.split(",")],
                        help="also show the figures at these fallback thresholds: 0.3,0.4")
    parser.add_argument("--errors", action="store_true",
                        help="also print each wrong message (for your own dev sets only)")
    args = parser.parse_args()

    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    started = time.monotonic()
    examples = load_examples(args.nlu)
    model = resolve_model(args.model)
    predictions = asyncio.run(predict(model, [text for text, _ in examples]))
    elapsed = time.monotonic() - started

    per_intent: dict[str, list[int]] = {}
    pairs: Counter = Counter()
    in_scope = in_scope_right = in_scope_rejected = 0
    by_filter = {"in-scope": 0, "noise": 0, "out_of_scope": 0}
    rejects = {"noise": [0, 0], "out_of_scope": [0, 0]}
    wrong = []
    for (text, label), (predicted, _) in zip(examples, predictions, strict=True):
        right = is_right(label, predicted)
        group = ("noise" if label == "noise" else "out_of_scope") if label in TO_REJECT \
            else "in-scope"
        by_filter[group] += predicted == FILTERED
        counts = per_intent.setdefault(label, [0, 0])
        counts[0] += right
        counts[1] += 1
        if group == "in-scope":
            in_scope += 1
            in_scope_right += right
            in_scope_rejected += predicted in REJECTED
        else:
            rejects[group][0] += right
            rejects[group][1] += 1
        if not right:
            pairs[(label, predicted)] += 1
            wrong.append((label, predicted, text))

    rejected = rejects["noise"][0] + rejects["out_of_scope"][0]
    to_reject = rejects["noise"][1] + rejects["out_of_scope"][1]
    accuracy = in_scope_right / in_scope if in_scope else 1.0
    rejection = rejected / to_reject if to_reject else 1.0

    print(f"model {Path(model).name} on {args.nlu}: {len(examples)} messages "
          f"in {elapsed:.0f} s")
    print(f"  in-scope intent accuracy      {rate(in_scope_right, in_scope)}")
    print(f"  in-scope wrongly rejected     {rate(in_scope_rejected, in_scope)}")
    print(f"  noise rejected                {rate(*rejects['noise'])}")
    print(f"  out_of_scope rejected         {rate(*rejects['out_of_scope'])}")
    print(f"  noise + out_of_scope rejected {rate(rejected, to_reject)}")
    print("  nlu_fallback from the NoiseFilter (no known word): "
          + ", ".join(f"{count} {group}" for group, count in by_filter.items()))
    print("\nintent                 accuracy  messages")
    for label, (hits, total) in sorted(per_intent.items(), key=lambda kv: kv[1][0] / kv[1][1]):
        print(f"  {label:22} {hits / total:.3f}     {total}")
    print("\nmost frequent confusions (label -> predicted):")
    for (label, predicted), count in pairs.most_common(args.top) or [(("none", "-"), 0)]:
        print(f"  {count:3}  {label} -> {predicted}")
    if args.thresholds:
        print("\nFallbackClassifier threshold (ambiguity ignored), NoiseFilter as trained:")
        print("threshold  in-scope right  in-scope rejected  noise+oos rejected")
        for threshold in args.thresholds:
            ok = rej = ok_rej = n_in = n_rej = 0
            for (_, label), (predicted, (top, confidence)) in zip(
                    examples, predictions, strict=True):
                if predicted == FILTERED or predicted.startswith("/"):
                    guess = predicted
                else:
                    guess = top if confidence >= threshold else "nlu_fallback"
                if label in TO_REJECT:
                    n_rej += 1
                    ok_rej += guess in REJECTED
                else:
                    n_in += 1
                    ok += guess == label
                    rej += guess in REJECTED
            print(f"{threshold:9.2f}  {ok / max(1, n_in):14.3f}  {rej / max(1, n_in):17.3f}  "
                  f"{ok_rej / max(1, n_rej):18.3f}")
    if args.errors:
        print("\nwrong predictions:")
        for label, predicted, text in sorted(wrong):
            print(f"  {label} -> {predicted}: {text}")

    failures = []
    if rejection < args.min_rejection:
        failures.append(f"rejection {rejection:.3f} is below {args.min_rejection:.2f}")
    if accuracy < args.min_accuracy:
        failures.append(f"in-scope accuracy {accuracy:.3f} is below {args.min_accuracy:.2f}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
