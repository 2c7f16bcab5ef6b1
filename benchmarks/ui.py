"""Median answer times of every `pmon ui` page and API (issue #15: <= 300 ms on the demo warehouse, <= 1 s at 1M).

Serves the warehouse with uvicorn on 127.0.0.1 (a free port) and asks each URL `--repeat` times over real HTTP
(httpx), after one warm-up request each. `--synthetic N` first builds a warehouse of N short synthetic documents
(every tenth with a detection) through `Warehouse.store_batch` and measures that instead. Prints a table, then one
JSON line last::

    .venv/bin/python benchmarks/ui.py --db data/demo.duckdb
    .venv/bin/python benchmarks/ui.py --synthetic 1000000 --db /tmp/ui-1m.duckdb
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn

from pmon.ui import UiSettings, create_app
from pmon.warehouse import Warehouse, refresh_trends

LANGS = ["en", "tg", "uz", "fa", "ps", "ug"]
WORDS = ["market", "rain", "school", "road", "bread", "council", "river", "harvest", "festival", "bridge", "trade"]


def build_synthetic(db: Path, documents: int, chunk: int = 50_000) -> None:
    """A warehouse of `documents` mild synthetic items over 180 days, 6 languages, 40 sources."""
    from pmon.schemas.codebook import Stance, load_codebook
    from pmon.schemas.detections import Classification, NarrativeScore
    from pmon.schemas.documents import RawItem
    from pmon.schemas.language import LanguageResult

    leaves = load_codebook().leaf_ids
    rng = random.Random(15)
    now = datetime.now(UTC).replace(tzinfo=None)
    with Warehouse.open(db) as wh:
        for start in range(0, documents, chunk):
            items, langs, classes = [], [], []
            for i in range(start, min(documents, start + chunk)):
                words = " ".join(rng.choice(WORDS) for _ in range(12))
                text = f"Item {i}: {words}. The {rng.choice(WORDS)} report number {i} is short."
                items.append(RawItem(source_id=f"src-{i % 40:02d}", title=f"note {i}", text=text,
                                     url=f"https://src{i % 40}.example/{i}",
                                     published_at=now - timedelta(minutes=rng.randrange(180 * 24 * 60))))
                lang = LANGS[i % len(LANGS)]
                langs.append(LanguageResult(lang=lang, script="Latn", confidence=0.9, mix={lang: 1.0}))
                flagged = i % 10 == 0
                classes.append(Classification(
                    stance=Stance.report if flagged else Stance.none,
                    narratives=[NarrativeScore(id=leaves[i % len(leaves)], score=0.3 + (i % 7) / 10,
                                               evidence=[text.split(". ")[0] + "."])] if flagged else [],
                    model_version="synthetic", codebook_version="synthetic"))
            wh.store_batch(items, langs, classes, run_id="synthetic", classifier_tag="synthetic")
            print(f"stored {min(documents, start + chunk):,} documents", file=sys.stderr, flush=True)
        refresh_trends(wh.con)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(db: Path, repeat: int) -> list[dict[str, object]]:
    """Median and worst milliseconds per URL over real HTTP."""
    app = create_app(UiSettings(db=db, background=False))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            detections = client.get("/api/detections", params={"limit": 1}).json()
            doc = detections[0]["document_id"] if detections else "none"
            narrative = detections[0]["narrative"].split(".")[0] if detections else "anti_western"
            urls = ["/", f"/narratives/{narrative}", f"/documents/{doc}", "/search?q=market",
                    "/search?q=&lang=tg&since=30d", "/alerts", "/review", "/runs", "/sources",
                    "/api/trends", "/api/trends?by=narrative,lang,source&period=day&since=30d",
                    "/api/documents?q=report", "/api/detections", "/api/alerts", "/api/runs"]
            rows = []
            for url in urls:
                status = client.get(url).status_code  # warm-up
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    client.get(url)
                    times.append((time.perf_counter() - start) * 1000)
                rows.append({"url": url, "status": status, "median_ms": round(statistics.median(times), 1),
                             "max_ms": round(max(times), 1)})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=Path("data/demo.duckdb"))
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--synthetic", type=int, default=0, help="first build a warehouse of this many documents")
    args = parser.parse_args()
    if args.synthetic:
        if args.db.exists():
            sys.exit(f"error: {args.db} exists; --synthetic builds a fresh warehouse")
        build_synthetic(args.db, args.synthetic)
    with Warehouse.open(args.db, read_only=True) as wh:
        documents = wh.count("documents")
    rows = measure(args.db, args.repeat)
    print(f"{args.db}: {documents:,} documents, {args.repeat} requests per URL")
    for row in rows:
        print(f"  {row['median_ms']:>8} ms median  {row['max_ms']:>8} ms max  {row['status']}  {row['url']}")
    print(json.dumps({"db": str(args.db), "documents": documents, "rows": rows}))


if __name__ == "__main__":
    main()
