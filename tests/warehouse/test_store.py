"""The warehouse: migrations, idempotent upserts, one-transaction batches, trends, the writer lock."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pmon.schemas.codebook import Stance
from pmon.schemas.detections import Classification, NarrativeScore
from pmon.schemas.documents import QuarantinedItem, RawItem
from pmon.schemas.language import LanguageResult
from pmon.warehouse import TrendQuery, Warehouse, WarehouseBusy, compare_windows, query_trends, refresh_trends
from pmon.warehouse.store import migrations


def _item(n: int, text: str | None = None, days_ago: int = 1, source: str = "s1") -> RawItem:
    return RawItem(source_id=source, external_id=str(n), text=text or f"document number {n}",
                   published_at=datetime.now(UTC) - timedelta(days=days_ago))


def _lang(lang: str = "en") -> LanguageResult:
    return LanguageResult(lang=lang, script="Latn", confidence=0.99)


def _cls(*narratives: str) -> Classification:
    return Classification(
        stance=Stance.promote if narratives else Stance.none,
        narratives=[NarrativeScore(id=n, score=0.9, evidence=["because"]) for n in narratives],
        model_version="m1", codebook_version="c1",
    )


def test_migrations_apply_once(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db) as wh:
        applied = wh.con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
    with Warehouse.open(db) as wh:
        assert wh.con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == applied == len(migrations())


def test_same_items_twice_add_nothing(memory_warehouse: Warehouse) -> None:
    items = [_item(1), _item(2)]
    first = memory_warehouse.store_batch(items, [_lang()] * 2, [_cls("anti_western"), _cls()], "r1", "tag")
    again = memory_warehouse.store_batch(items, [_lang()] * 2, [_cls("anti_western"), _cls()], "r2", "tag")
    assert (first.documents, first.detections) == (2, 1)
    assert (again.documents, again.detections) == (0, 0)
    assert memory_warehouse.count("documents") == 2 and memory_warehouse.count("detections") == 1


def test_identity_ignores_spacing_case_and_zero_width() -> None:
    a = RawItem(source_id="s", text="Prices  ro\u200cse in Kabul")
    b = RawItem(source_id="s", text="prices rose in kabul ")
    c = RawItem(source_id="other", text="prices rose in kabul")
    assert a.id == b.id != c.id


def test_mismatched_batch_is_refused_whole(memory_warehouse: Warehouse) -> None:
    items = [_item(1), _item(2)]
    with pytest.raises(Exception):  # noqa: B017 - refused before anything is written
        # One language short.
        memory_warehouse.store_batch(items, [_lang()], [_cls("anti_western"), _cls()], "r1", "tag")
    assert memory_warehouse.count("documents") == 0 and memory_warehouse.count("detections") == 0


def test_quarantine_keeps_reason_and_counts_repeats(memory_warehouse: Warehouse) -> None:
    bad = QuarantinedItem(source_id="s", stage="item", reason="line 3: invalid JSON", payload="{oops")
    memory_warehouse.quarantine([bad], "r1")
    memory_warehouse.quarantine([bad], "r2")
    row = memory_warehouse.con.execute("SELECT reason, times_seen, run_id FROM quarantine").fetchall()
    assert row == [("line 3: invalid JSON", 2, "r2")]


def test_trends_counts_shares_and_parents(memory_warehouse: Warehouse) -> None:
    items = [_item(i, days_ago=1) for i in range(4)]
    langs = [_lang("tg"), _lang("tg"), _lang("tg"), _lang("en")]
    cls = [_cls("economic_recruitment"), _cls("taliban_deviation.iran_ties", "taliban_deviation.abandoned_jihad"),
           _cls(), _cls("economic_recruitment")]
    memory_warehouse.store_batch(items, langs, cls, "r", "tag")
    refresh_trends(memory_warehouse.con)
    rows = query_trends(memory_warehouse.con, TrendQuery(by=("narrative", "lang"), period="week"))
    by_key = {(r["narrative"], r["lang"]): r for r in rows}
    assert by_key[("economic_recruitment", "tg")]["documents"] == 1
    assert by_key[("economic_recruitment", "tg")]["share"] == pytest.approx(1 / 3, abs=1e-3)
    assert by_key[("taliban_deviation", "tg")]["documents"] == 1  # one document, two leaves: the parent counts once
    assert by_key[("economic_recruitment", "en")]["share"] == 1.0


def test_compare_windows_finds_the_rise(memory_warehouse: Warehouse) -> None:
    items = [_item(i, days_ago=d) for i, d in enumerate([80, 50, 5, 4, 3, 2, 1])]
    memory_warehouse.store_batch(items, [_lang("tg")] * 7, [_cls("economic_recruitment")] * 7, "r", "tag")
    refresh_trends(memory_warehouse.con)
    row = next(r for r in compare_windows(memory_warehouse.con) if r["narrative"] == "economic_recruitment")
    assert (row["recent"], row["baseline"]) == (5, 2)
    assert row["change"] == pytest.approx(5.0)


def test_second_writer_gets_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"from pmon.warehouse import Warehouse; import time; w = Warehouse.open({str(db)!r}, purpose='test holder'); "
         "print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseBusy, match=rf"process {holder.pid} \(test holder"):
            Warehouse.open(db, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()
    with Warehouse.open(db, wait_seconds=2) as wh:  # the lock died with its process
        assert wh.count("documents") == 0


def test_sources_are_written_only_when_their_configuration_changes(tmp_path: Path) -> None:
    from pmon.schemas.sources import SourceConfig

    def source(n: int, location: str = "feed.xml", tags: tuple[str, ...] = ()) -> SourceConfig:
        return SourceConfig(id=f"s{n}", kind="feed", location=f"https://example.org/{n}/{location}",
                            expected_langs=["tg"], tags=list(tags))

    with Warehouse.open(tmp_path / "w.duckdb") as wh:
        assert wh.upsert_sources([source(n) for n in range(3)]) == 3
        wh.save_fetch_state("s1", '"etag-1"', "Mon, 07 Dec 2026 09:00:00 GMT")
        stamps = dict(wh.con.execute("SELECT id, updated_at FROM sources").fetchall())
        assert wh.upsert_sources([source(n) for n in range(3)]) == 0  # a run over an unchanged file writes nothing
        assert dict(wh.con.execute("SELECT id, updated_at FROM sources").fetchall()) == stamps
        # A moved feed and new tags are written; its conditional-GET state stays; a new source is added.
        assert wh.upsert_sources([source(0), source(1, "moved.xml", ("news",)), source(2), source(3)]) == 2
        rows = {
            r[0]: r[1:] for r in wh.con.execute("SELECT id, location, tags, etag, updated_at FROM sources").fetchall()
        }
    assert rows["s1"][:3] == ("https://example.org/1/moved.xml", ["news"], '"etag-1"')
    assert rows["s1"][3] > stamps["s1"] and rows["s0"][3] == stamps["s0"] and "s3" in rows
