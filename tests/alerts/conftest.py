"""Warehouses for the alert tests.

* `truth_warehouse`: the demo's synthetic media, rendered, served on 127.0.0.1 and read by the real ingestion
  adapters, then stored with the languages and narratives *the media were built from* (truth.jsonl) instead of
  the classifier's: the planted signals exactly as planted, in seconds and without the model.
* `make_warehouse`: small synthetic warehouses written row by row for the unit tests of each rule.
* `encoder`: the real multilingual encoder (session-scoped; loaded only by the tests that need it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from pmon.schemas.detections import Classification, NarrativeScore
from pmon.schemas.documents import RawItem
from pmon.schemas.language import LanguageResult
from pmon.warehouse import Warehouse, refresh_trends

#: The day the synthetic warehouses are evaluated on (the demo media are anchored on it too). Today, in UTC: the
#: CLI tests ask `pmon alerts --since 30d`, which counts back from the real clock, so media anchored on a fixed
#: day drift out of the window as the calendar moves on (a fixed 2026-11-25 broke them twelve days later).
TODAY = datetime.now(UTC).date()
NOW = datetime.combine(TODAY, time(12, 0))


def store_truth_media(wh: Warehouse, media_dir: Path, anchor: date = TODAY) -> dict[str, Any]:
    """Render the demo media into `media_dir`, ingest them for real, store them with their true labels."""
    from pmon.ingestion import IngestLimits, SafeFetcher, read_source
    from pmon.ingestion.local_server import serve_directory
    from pmon.sample_media import render
    from pmon.schemas.codebook import Stance
    from pmon.schemas.sources import load_sources

    with serve_directory(media_dir) as base_url:
        manifest = render(media_dir, base_url=base_url, anchor=anchor)
        truth = [json.loads(line) for line in Path(manifest.truth_file).read_text(encoding="utf-8").splitlines()]
        by_url = {row["url"]: row for row in truth if row["url"]}
        by_id = {row["item_id"]: row for row in truth}
        config = load_sources(manifest.sources_file)
        items: list[RawItem] = []
        rows: list[dict[str, Any]] = []
        with SafeFetcher(IngestLimits()) as fetcher:
            for source in config.sources:
                batch = read_source(source, fetcher)
                for item in batch.items:
                    row = by_url.get(item.url or "") or by_id.get(item.external_id or "") or _by_suffix(by_id, item)
                    if row is None or row["source_id"] != source.id:
                        continue
                    items.append(item)
                    rows.append(row)
        wh.upsert_sources(config.sources)
    languages = [LanguageResult(lang=r["lang"], script=r["script"], confidence=1.0) for r in rows]
    classifications = [
        Classification(
            stance=Stance(r["stance"]) if r["labels"] else Stance.none,
            narratives=[NarrativeScore(id=label, score=0.9, evidence=[]) for label in r["labels"]],
            model_version="truth", codebook_version="truth",
        )
        for r in rows
    ]
    unique: dict[str, int] = {}
    for index, item in enumerate(items):
        unique.setdefault(item.id, index)
    keep = sorted(unique.values())
    wh.store_batch([items[i] for i in keep], [languages[i] for i in keep], [classifications[i] for i in keep],
                   run_id="truth", classifier_tag="truth")
    refresh_trends(wh.con)
    return {"manifest": manifest, "stored": len(keep), "truth": truth}


def _by_suffix(by_id: dict[str, dict[str, Any]], item: RawItem) -> dict[str, Any] | None:
    if not item.external_id:
        return None
    for key, row in by_id.items():
        if row["source_id"] == item.source_id and key.endswith("/" + item.external_id.rsplit("/", 1)[-1]):
            return row
    return None


@pytest.fixture(scope="session")
def truth_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DuckDB file with the demo media and their true labels (built once per session; copy before writing)."""
    root = tmp_path_factory.mktemp("truth-warehouse")
    path = root / "truth.duckdb"
    with Warehouse.open(path) as wh:
        info = store_truth_media(wh, root / "media")
        assert info["stored"] > 400, info["stored"]
    yield path


@pytest.fixture
def truth_copy(truth_warehouse: Path, tmp_path: Path) -> Path:
    """A private copy of the truth warehouse that a test may write to."""
    import shutil

    target = tmp_path / "truth.duckdb"
    shutil.copy(truth_warehouse, target)
    return target


Doc = tuple[str, str, str, int, Sequence[str]]  # (source, lang, text, days before TODAY, narratives)


@pytest.fixture
def make_warehouse() -> Iterator[Callable[[Sequence[Doc]], Warehouse]]:
    """Build an in-memory warehouse from (source, lang, text, days_ago, narratives) rows; trends refreshed."""
    opened: list[Warehouse] = []

    def build(docs: Sequence[Doc]) -> Warehouse:
        wh = Warehouse.open(":memory:")
        opened.append(wh)
        add_documents(wh, docs)
        return wh

    yield build
    for wh in opened:
        wh.close()


def add_documents(wh: Warehouse, docs: Sequence[Doc], run_id: str = "test") -> None:
    """Store synthetic documents with the given narratives (score 0.9, stance promote) and refresh trends."""
    from pmon.schemas.codebook import Stance

    items, languages, classifications = [], [], []
    for source, lang, text, days_ago, narratives in docs:
        published = NOW - timedelta(days=days_ago)
        items.append(RawItem(source_id=source, text=text, url=f"https://{source}.example/{abs(hash(text)) % 10**8}",
                             published_at=published))
        languages.append(LanguageResult(lang=lang, script="Zyyy", confidence=1.0))
        classifications.append(Classification(
            stance=Stance.promote if narratives else Stance.none,
            narratives=[NarrativeScore(id=n, score=0.9, evidence=[text]) for n in narratives],
            model_version="test", codebook_version="test",
        ))
    wh.store_batch(items, languages, classifications, run_id=run_id, classifier_tag="test")
    refresh_trends(wh.con)


def steady(source: str, lang: str, narrative: str | None, per_week: float, weeks: int, start_days_ago: int,
           tag: str = "") -> list[Doc]:
    """Evenly spaced documents: `per_week` a week for `weeks` weeks, the newest `start_days_ago` days ago."""
    total = round(per_week * weeks)
    span = weeks * 7
    docs: list[Doc] = []
    for i in range(total):
        days_ago = start_days_ago + int(i * span / max(total, 1))
        docs.append((source, lang, f"{tag}{source} {lang} {narrative or 'none'} item {i}", days_ago,
                     [narrative] if narrative else []))
    return docs
