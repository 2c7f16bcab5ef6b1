"""Language identification throughput on one core: sentences per second for `detect`, `detect_document` and
pycld2 alone (the floor: every text goes through CLD2).

Texts: the sentences of the shared dev set when it is there (../shared/data/langid-dev.jsonl, or the file given
as the first argument), else the project's own fixture sentences. Time is CPU time of this process, pinned to
one core, best of five rounds: on a shared machine that is steadier than wall time.

    python benchmarks/langid.py [FILE.jsonl]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEV_SET = ROOT.parent / "shared" / "data" / "langid-dev.jsonl"
FIXTURES = ROOT / "tests" / "fixtures" / "langid" / "sentences.jsonl"
ROUNDS = 5
MIN_ITEMS_PER_ROUND = 2000


def _sentences(path: Path) -> list[str]:
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record.get("kind", "sentence") == "sentence":
                texts.append(record["text"])
    return texts


def _items_per_second(function: Callable[[str], object], texts: list[str]) -> float:
    repeats = max(1, -(-MIN_ITEMS_PER_ROUND // len(texts)))
    batch = texts * repeats
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for text in batch:
            function(text)
        best = min(best, time.process_time() - started)
    return len(batch) / best


def main() -> None:
    """Measure and print; the last line is JSON."""
    import pycld2

    from pmon.classifiers.langid import detect, detect_document
    from pmon.classifiers.langid.detector import warm_up

    source = Path(sys.argv[1]) if len(sys.argv) > 1 else (DEV_SET if DEV_SET.is_file() else FIXTURES)
    texts = _sentences(source)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal states
    warm_up()
    figures = {
        "source": str(source),
        "sentences": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "detect_per_second": round(_items_per_second(detect, texts)),
        "detect_document_per_second": round(_items_per_second(detect_document, texts)),
        "pycld2_per_second": round(_items_per_second(lambda t: pycld2.detect(t, bestEffort=True), texts)),
    }
    print(f"{figures['sentences']} sentences from {source} (mean {figures['mean_chars']} characters), one core")
    for key in ("detect_per_second", "detect_document_per_second", "pycld2_per_second"):
        print(f"  {key.removesuffix('_per_second'):16s} {figures[key]:>9,} sentences/s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
