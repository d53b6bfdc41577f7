"""Where the time goes, from py-spy's collapsed stacks (``--format raw``).

    .venv/bin/python -m bench.profile_summary var/profile/rasa.txt [--top 25]

Prints, per thread, its share of samples, then the functions with the largest inclusive
share (a frame counted once per sample however deep it recurs) for the markers the
issue asks about: NLU, policies, tracker store, action calls, the webhook, sends.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")

# Inclusive share of these say what each part of a turn costs.
MARKERS = {
    "NLU (parse_message)": "parse_message",
    "policies (predict_next_action)": "predict_next_action",
    "tracker store retrieve": "retrieve",
    "tracker store save": "save",
    "action server calls (RemoteAction.run)": "remote.py",
    "Graph API sends (deliver)": "deliver",
    "webhook receive": "receive",
    "inbound queue put": "put",
    "session start": "_update_tracker_session",
}


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        head, _, count = line.rpartition(" ")
        if not head or not count.isdigit():
            continue
        stacks.append((head.split(";"), int(count)))
    return stacks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    stacks = parse(args.profile)
    total = sum(count for _, count in stacks) or 1
    threads: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    markers: Counter[str] = Counter()
    for frames, count in stacks:
        threads[frames[0]] += count
        seen = set(frames[1:])
        for frame in seen:
            inclusive[frame] += count
        text = ";".join(frames)
        for label, needle in MARKERS.items():
            if needle in text:
                markers[label] += count
    print(f"{args.profile}: {total} samples (100 Hz → {total / 100:.0f} s of thread time)")
    print("per thread:")
    for thread, count in threads.most_common(8):
        print(f"  {count / total:6.1%}  {thread}")
    print("markers (inclusive):")
    for label in MARKERS:
        print(f"  {markers[label] / total:6.1%}  {label}")
    print(f"top {args.top} frames (inclusive):")
    for frame, count in inclusive.most_common(args.top):
        print(f"  {count / total:6.1%}  {frame[:150]}")


if __name__ == "__main__":
    main()
