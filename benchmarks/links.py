"""Cost of message linking as the stream grows: seconds per 10,000 documents at several sizes.

The linker compares each document only with those of its time window (window-wide time blocks meet themselves
and their neighbours), so at a fixed rate of documents per day the cost per document should stay flat as the
stream gets longer. Runs on random unit vectors (the encoder is not timed: in a run the sentences are embedded
for the classifier anyway), with one message in three translated into two to six of six languages, at
`--per-day` documents a day. Prints a line per size on stderr, then one JSON line last::

    .venv/bin/python benchmarks/links.py                          # 10,000 / 20,000 / 40,000 documents
    .venv/bin/python benchmarks/links.py --sizes 10000,80000 --per-day 2000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # run as a plain script from any directory

from pmon.classifiers.links import LinkDocument, link  # noqa: E402

LANGS = ("en", "tg", "uz", "fa", "ps", "ug")


def stream(n: int, per_day: float, dim: int, seed: int) -> tuple[list[LinkDocument], np.ndarray, list[np.ndarray]]:
    """`n` documents at `per_day` a day: messages in one to six languages, each a base vector plus noise, and
    three sentence vectors per document around it."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2027, 1, 1, tzinfo=UTC)
    docs: list[LinkDocument] = []
    rows: list[np.ndarray] = []
    while len(docs) < n:
        base = rng.normal(size=dim)
        hours = len(docs) / per_day * 24
        versions = rng.integers(2, 7) if rng.random() < 1 / 3 else 1
        for lang in rng.choice(LANGS, size=versions, replace=False)[: n - len(docs)]:
            docs.append(LinkDocument(id=str(len(docs)), text="", lang=str(lang),
                                     published_at=t0 + timedelta(hours=hours + float(rng.uniform(0, 48)))))
            rows.append(base + 0.35 * rng.normal(size=dim))
    vectors = np.array(rows, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sentences = vectors[:, None, :] + 0.5 * rng.normal(size=(n, 3, dim)).astype(np.float32) / np.sqrt(dim)
    sentences /= np.linalg.norm(sentences, axis=2, keepdims=True)
    return docs, vectors, list(sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,20000,40000")
    parser.add_argument("--per-day", type=float, default=1000.0, help="documents per day (sets the window's size)")
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        docs, vectors, sentences = stream(n, args.per_day, args.dim, seed=n)
        start = time.process_time()
        wall = time.perf_counter()
        memberships = link(docs, vectors, sentences=sentences)
        cpu = time.process_time() - start
        wall = time.perf_counter() - wall
        groups = len({m.group for m in memberships.values()})
        results.append({"documents": n, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                        "cpu_s_per_10k": round(cpu / n * 10_000, 2), "groups": groups})
        print(f"{n:>7} documents: {cpu:6.2f} s CPU ({cpu / n * 10_000:.2f} s per 10,000), {wall:.2f} s wall, "
              f"{groups} groups", file=sys.stderr)
    print(json.dumps({"per_day": args.per_day, "window_hours": 168, "dim": args.dim, "results": results,
                      "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
