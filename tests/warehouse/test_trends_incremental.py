"""Incremental trend refresh: what new documents add is summed in, the (day, source) keys of relabelled documents
are recomputed, and the aggregates equal a full rebuild from documents and detections, on a real DuckDB file."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from pmon.schemas.codebook import Stance
from pmon.schemas.detections import Classification, NarrativeScore
from pmon.schemas.documents import RawItem
from pmon.schemas.language import LanguageResult
from pmon.warehouse import Warehouse, refresh_trends

NOW = datetime(2026, 11, 25, 12, 0)
NARRATIVES = ["economic_recruitment", "taliban_deviation.iran_ties", "taliban_deviation.abandoned_jihad",
              "anti_regional.china", "anti_western"]
STANCES = [Stance.promote, Stance.report, Stance.counter]


def _batch(rng: random.Random, tag: str, n: int, days: range, sources: list[str]) -> tuple[list, list, list]:
    items, langs, cls = [], [], []
    for i in range(n):
        source = rng.choice(sources)
        published = NOW - timedelta(days=rng.choice(days), hours=rng.randint(0, 23))
        items.append(RawItem(source_id=source, text=f"{tag} document {i} of {source}",
                             published_at=published if rng.random() > 0.05 else None))
        langs.append(LanguageResult(lang=rng.choice(["tg", "uz", "fa", "ps", "en"]), script="Zyyy", confidence=0.9))
        chosen = rng.sample(NARRATIVES, rng.randint(0, 3))
        cls.append(Classification(
            stance=rng.choice(STANCES) if chosen else Stance.none,
            narratives=[NarrativeScore(id=c, score=0.8, evidence=[]) for c in chosen],
            model_version="m", codebook_version="c",
        ))
    return items, langs, cls


def _aggregates(wh: Warehouse) -> tuple[list[tuple], ...]:
    return tuple(wh.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()  # noqa: S608 - fixed names
                 for table in ("doc_daily", "narrative_daily", "doc_weekly", "narrative_weekly"))


def test_incremental_refresh_equals_a_full_rebuild(tmp_path: Path) -> None:
    rng = random.Random(7)
    sources = [f"src-{i}" for i in range(6)]
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db) as wh:
        wh.store_batch(*_batch(rng, "first", 400, range(0, 60), sources), run_id="r1", classifier_tag="t")
        first = refresh_trends(wh.con)
        assert first.full  # never built before: a full rebuild
        assert refresh_trends(wh.con).keys == 0  # nothing written since: nothing to do

        # A later run: new days, old days of some sources (late items), a new source, documents seen before.
        items, langs, cls = _batch(rng, "second", 150, range(0, 5), [*sources[:3], "src-new"])
        late = _batch(rng, "late", 40, range(30, 40), sources[2:4])
        wh.store_batch(items + late[0], langs + late[1], cls + late[2], run_id="r2", classifier_tag="t")
        again = _batch(random.Random(7), "first", 50, range(0, 60), sources)  # the first 50 again: no change
        assert wh.store_batch(*again, run_id="r2", classifier_tag="t").documents == 0
        # Relabelled documents (what a run does after retraining): their old days must be recomputed too.
        old = wh.con.execute("SELECT id FROM documents WHERE run_id = 'r1' ORDER BY id LIMIT 60").fetchall()
        relabel = [Classification(stance=Stance.promote, narratives=[NarrativeScore(id="anti_western", score=0.9)],
                                  model_version="m2", codebook_version="c2") for _ in old]
        wh.replace_classifications([row[0] for row in old], relabel, "r2", "t2")
    # A refresh in another process later (the marks survive closing the file, as after a crash).
    with Warehouse.open(db) as wh:
        incremental = refresh_trends(wh.con)
        assert not incremental.full and 0 < incremental.keys < 6 * 61 and incremental.delta_rows > 0
        assert wh.count("trends_dirty") == wh.count("doc_daily_delta") == wh.count("narrative_daily_delta") == 0
        after_incremental = _aggregates(wh)
        rebuilt = refresh_trends(wh.con, full=True)
        assert rebuilt.full
        after_full = _aggregates(wh)
    assert after_incremental == after_full
    assert len(after_full[0]) > 100 and len(after_full[1]) > 100
    assert 20 < len(after_full[2]) < len(after_full[0]) and len(after_full[3]) < len(after_full[1])
    # Parents are derived once per document, as in the full rebuild.
    assert any(row[1] == "taliban_deviation" for row in after_full[1])


def test_runs_that_only_add_documents_equal_a_full_rebuild(tmp_path: Path) -> None:
    rng = random.Random(3)
    sources = ["a", "b", "c"]
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.store_batch(*_batch(rng, "run0", 200, range(0, 30), sources), run_id="r0", classifier_tag="t")
        refresh_trends(wh.con)
        for run in range(1, 4):  # each run: a few batches into old and new days, then one refresh
            for batch in range(3):
                wh.store_batch(*_batch(rng, f"run{run}-{batch}", 40, range(0, 35), [*sources, f"new{run}"]),
                               run_id=f"r{run}", classifier_tag="t")
            done = refresh_trends(wh.con)
            assert (done.full, done.keys) == (False, 0) and done.delta_rows > 0
        incremental = _aggregates(wh)
        refresh_trends(wh.con, full=True)
        assert _aggregates(wh) == incremental


def test_refresh_without_new_documents_does_nothing(tmp_path: Path) -> None:
    rng = random.Random(1)
    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        wh.store_batch(*_batch(rng, "a", 30, range(0, 10), ["s"]), run_id="r1", classifier_tag="t")
        refresh_trends(wh.con)
        before = _aggregates(wh)
        result = refresh_trends(wh.con)
        assert (result.full, result.keys, result.changed) == (False, 0, False)
        assert _aggregates(wh) == before
