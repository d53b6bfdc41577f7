"""Read `rasa test nlu` results and print what a designer needs.

    python scripts/nlu_report.py var/results/nlu --min-f1 0.90   # figure + gate
    python scripts/nlu_report.py var/results/nlu --details       # per intent + confusions
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

SKIPPED = {"accuracy", "macro avg", "weighted avg", "micro avg"}


def load_report(results: Path) -> dict:
    return json.loads((results / "intent_report.json").read_text())


def confusions(results: Path) -> Counter:
    errors_file = results / "intent_errors.json"
    if not errors_file.exists():
        return Counter()
    pairs: Counter = Counter()
    for error in json.loads(errors_file.read_text()):
        pairs[(error["intent"], error["intent_prediction"]["name"])] += 1
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--min-f1", type=float, default=None)
    parser.add_argument("--details", action="store_true")
    args = parser.parse_args()

    report = load_report(args.results)
    macro_f1 = report["macro avg"]["f1-score"]
    print(f"NLU held-out intent macro-F1: {macro_f1:.3f} "
          f"(accuracy {report['accuracy']:.3f}, {report['macro avg']['support']} examples)")

    if args.details:
        print("\nintent                  F1     precision recall  examples")
        rows = sorted((k, v) for k, v in report.items() if k not in SKIPPED)
        for intent, scores in sorted(rows, key=lambda row: row[1]["f1-score"]):
            print(f"{intent:22} {scores['f1-score']:.3f}  {scores['precision']:.3f}     "
                  f"{scores['recall']:.3f}   {scores['support']}")
        pairs = confusions(args.results)
        print("\nmost frequent confusions (true intent -> predicted):")
        for (true, predicted), count in pairs.most_common(15) or [(("none", "-"), 0)]:
            print(f"  {count:3}  {true} -> {predicted}")
        print(f"\nevery misclassified example: {args.results / 'intent_errors.json'}")

    if args.min_f1 is not None and macro_f1 < args.min_f1:
        print(f"FAIL: macro-F1 {macro_f1:.3f} is below {args.min_f1:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
