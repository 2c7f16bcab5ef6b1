"""What grows with the documents of a run besides the encoder: the warehouse writes of a 100,000-document run.

`pipeline.py` runs the real flow and records RSS against the sentences embedded (`rss_trace`); on a 2-core
machine without AVX-512 it embeds ~50 sentences/s, so a 100,000-document run (~870,000 sentences) takes about
five hours. What its memory could grow with besides the encoder's working set is the warehouse (DuckDB's buffers,
the primary-key indexes, the trend deltas) and the classifier's bounded embedding cache. This script drives
exactly the warehouse calls the monitor flow makes, batch by batch, for `--docs` documents with the corpus's
text sizes (70% posts of 1-3 sentences, 30% articles of 2-5 kB, three narratives with evidence on 60% of them),
and fills a `MemoryEmbeddingCache` to its bound, sampling this process's RSS and DuckDB's own accounting::

    .venv/bin/python benchmarks/memory.py                    # 100,000 documents, ~3 min
    .venv/bin/python benchmarks/memory.py --docs 20000

Per dedupe and store, as the flow: `existing_ids` of the batch's ids, `store_batch(known_new=True)` of 128
documents with languages and classifications, `save_fetch_state` per source; `refresh_trends` at the end.
Prints a line per 10,000 documents, then one JSON line last: ``rss_mb`` (per 10,000 documents),
``duckdb_mb`` (`duckdb_memory()`), ``warehouse_growth_mb`` (RSS after the last batch minus after the first),
``embedding_cache_mb`` (RSS the cache added at its bound).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))  # the project, from any directory
sys.path.insert(0, str(BENCHMARKS))  # pipeline.py's corpus helpers

from pipeline import VARIETIES, SentenceSource, _say, load_sentence_pool, machine, rss_bytes  # noqa: E402

BATCH = 128  # the flow's analysis batch
PER_SOURCE = 250  # documents per source (the benchmark corpus has 50-500)


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    return rss_bytes() / 2**20


def documents(count: int, seed: int) -> Any:
    """(RawItem, LanguageResult, Classification) batches of `BATCH`, with the corpus's sizes and labels."""
    from pmon.schemas.codebook import Stance, load_codebook
    from pmon.schemas.detections import Classification, NarrativeScore
    from pmon.schemas.documents import RawItem
    from pmon.schemas.language import LanguageResult

    rng = random.Random(seed)
    sentences = SentenceSource(load_sentence_pool(), rng)
    leaves = load_codebook().leaf_ids
    now = datetime.now(UTC)
    varieties = list(VARIETIES)
    batch: list[tuple[Any, Any, Any]] = []
    for number in range(count):
        source = number // PER_SOURCE
        variety = varieties[source % len(varieties)]
        paragraphs = sentences.article(variety) if rng.random() < 0.3 else sentences.post(variety)
        text = "\n\n".join(paragraphs)
        item = RawItem(source_id=f"mem-{source:04d}", external_id=str(number), url=f"https://example.org/{number}",
                       title=sentences.title(paragraphs[0]), text=text,
                       published_at=now - timedelta(seconds=rng.randint(60, 90 * 86400)))
        lang, script = variety.split("-")
        labelled = rng.random() < 0.6
        narratives = [
            NarrativeScore(id=leaf, score=round(rng.uniform(0.35, 0.99), 3), evidence=paragraphs[0].split(". ")[:2])
            for leaf in (rng.sample(leaves, rng.randint(1, 3)) if labelled else [])
        ]
        classification = Classification(stance=Stance.promote if labelled else Stance.none, narratives=narratives,
                                        model_version="bench", codebook_version="bench")
        batch.append((item, LanguageResult(lang=lang, script=script, confidence=0.99), classification))
        if len(batch) == BATCH or number == count - 1:
            yield batch
            batch = []


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Write `args.docs` documents as the flow does; RSS and DuckDB memory per 10,000 documents."""
    from pmon.classifiers.narratives.model import MemoryEmbeddingCache
    from pmon.schemas.documents import identity
    from pmon.warehouse import Warehouse, refresh_trends

    figures: dict[str, Any] = {"benchmark": "memory", "docs": args.docs, "rss_mb": {}, "duckdb_mb": {}}
    figures["rss_start_mb"] = round(rss_mb(), 1)
    written = 0
    started = time.perf_counter()
    with Warehouse.open(workdir / "memory.duckdb") as wh:
        first_batch_rss = None
        fetched: dict[str, datetime] = {}
        for batch in documents(args.docs, args.seed):
            items = [b[0] for b in batch]
            identities = [identity(i.source_id, i.full_text) for i in items]
            ids = [doc_id for doc_id, _ in identities]
            if wh.existing_ids(ids):  # the flow's dedupe
                raise RuntimeError("a fresh warehouse already holds a generated id")
            wh.store_batch(items, [b[1] for b in batch], [b[2] for b in batch], run_id="bench", classifier_tag="bench",
                           ids=ids, hashes=[h for _, h in identities], known_new=True)
            for item in items:
                fetched[item.source_id] = max(fetched.get(item.source_id, item.published_at), item.published_at)
            for source_id in [s for s in fetched if s != items[-1].source_id]:  # a source done: its fetch state
                wh.save_fetch_state(source_id, f'"{source_id}"', None, fetched.pop(source_id).replace(tzinfo=None))
            written += len(batch)
            if first_batch_rss is None:
                first_batch_rss = rss_mb()
            if written % 10_000 < BATCH or written == args.docs:
                step = str(written)
                figures["rss_mb"][step] = round(rss_mb(), 1)
                figures["duckdb_mb"][step] = round(float(wh.con.execute(
                    "SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] or 0) / 2**20, 1)
                _say(f"{written:>7} documents: RSS {figures['rss_mb'][step]:.0f} MB, DuckDB "
                     f"{figures['duckdb_mb'][step]:.0f} MB, {time.perf_counter() - started:.0f} s")
        refresh_started = time.perf_counter()
        refresh_trends(wh.con)
        figures["refresh_trends_s"] = round(time.perf_counter() - refresh_started, 2)
        figures["rss_after_refresh_mb"] = round(rss_mb(), 1)
    figures["warehouse_file_mb"] = round(sum(p.stat().st_size for p in workdir.glob("memory.duckdb*")) / 2**20, 1)
    figures["write_s"] = round(time.perf_counter() - started, 1)
    figures["warehouse_growth_mb"] = round(max(figures["rss_mb"].values()) - (first_batch_rss or 0), 1)
    gc.collect()
    before = rss_mb()
    cache = MemoryEmbeddingCache()
    rng = np.random.default_rng(args.seed)
    for start in range(0, cache.max_items + 10_000, 1_000):  # past its bound: the oldest are forgotten
        vectors = rng.standard_normal((1_000, 384), dtype=np.float32)
        cache.put("bench", [f"{start + i:064x}" for i in range(1_000)], vectors)
    figures["embedding_cache_items"] = cache.max_items
    figures["embedding_cache_mb"] = round(rss_mb() - before, 1)
    figures["machine"] = machine()
    return figures


def main() -> None:
    """Parse the options, write, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="documents to write (default 100,000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.docs < 1:
        parser.error("--docs must be >= 1")
    workdir = Path(tempfile.mkdtemp(prefix="pmon-bench-memory-"))
    try:
        figures = run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    _say(f"\n{args.docs} documents written as a run writes them: RSS grew {figures['warehouse_growth_mb']} MB "
         f"after the first batch (DuckDB accounts {list(figures['duckdb_mb'].values())[-1]} MB); the embedding "
         f"cache at its bound ({figures['embedding_cache_items']} sentences) holds {figures['embedding_cache_mb']} MB")
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
