"""Parquet export: partitioned by date, read back by DuckDB and pyarrow, idempotent, repaired after a kill."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from pmon.schemas.codebook import Stance
from pmon.schemas.detections import Classification, NarrativeScore
from pmon.schemas.documents import RawItem
from pmon.schemas.language import LanguageResult
from pmon.warehouse import Warehouse
from pmon.warehouse.export import ExportError, export_parquet

DAYS = [date(2026, 8, 30), date(2026, 9, 2), date(2026, 9, 28), date(2026, 10, 1), date(2026, 11, 20)]


def _fill(wh: Warehouse, days: list[date], prefix: str = "doc") -> None:
    items = [RawItem(source_id="s", external_id=f"{prefix}{i}", text=f"{prefix} number {i} about flour prices",
                     published_at=datetime(d.year, d.month, d.day, 8, tzinfo=UTC)) for i, d in enumerate(days)]
    classes = [
        Classification(
            stance=Stance.report,
            narratives=[NarrativeScore(id="economic_recruitment", score=0.8, evidence=["flour"])],
            model_version="m",
            codebook_version="c",
        )
        if i % 2 == 0
        else Classification()
        for i in range(len(items))
    ]
    wh.store_batch(items, [LanguageResult(lang="en", script="Latn", confidence=0.9)] * len(items), classes, "r", "tag")


def _read(out: Path, table: str) -> list[tuple]:
    return duckdb.sql(
        f"SELECT * EXCLUDE (month) , month FROM read_parquet('{out}/{table}/*/*.parquet', hive_partitioning = true) "  # noqa: S608 - the test's own tmp_path and table names
        "ORDER BY ALL"
    ).fetchall()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    wh = Warehouse.open(tmp_path / "w.duckdb")
    _fill(wh, DAYS)
    yield wh
    wh.close()


def test_export_read_back_by_duckdb_and_pyarrow(warehouse: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "export"
    summary = export_parquet(warehouse.con, out)
    assert summary.partitions == ["2026-08", "2026-09", "2026-10", "2026-11"]
    assert summary.rows == {"documents": 5, "detections": 3}
    docs = duckdb.sql(
        f"SELECT id, text, month FROM read_parquet('{out}/documents/*/*.parquet', hive_partitioning = true)"  # noqa: S608 - out is tmp_path
    ).fetchall()
    stored = warehouse.con.execute("SELECT id, text, strftime(published_at, '%Y-%m') FROM documents").fetchall()
    assert sorted(docs) == sorted(stored)
    dets = duckdb.sql(
        f"SELECT document_id, narrative, evidence FROM read_parquet('{out}/detections/*/*.parquet')"  # noqa: S608 - out is tmp_path
    ).fetchall()
    stored_dets = warehouse.con.execute("SELECT document_id, narrative, evidence FROM detections").fetchall()
    assert sorted(dets) == sorted(stored_dets)
    table = ds.dataset(out / "documents", format="parquet", partitioning="hive").to_table()  # another engine
    assert table.num_rows == 5 and set(table.column("month").to_pylist()) == set(summary.partitions)
    assert (out / "sources.parquet").exists()


def test_export_again_is_idempotent_and_since_rewrites_only_its_window(warehouse: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export_parquet(warehouse.con, out)
    before = _read(out, "documents")
    export_parquet(warehouse.con, out)
    assert _read(out, "documents") == before  # nothing doubled

    august_file = next((out / "documents" / "month=2026-08").glob("*.parquet"))
    august_mtime = august_file.stat().st_mtime_ns
    _fill(warehouse, [date(2026, 11, 21), date(2026, 9, 15)], prefix="late")
    summary = export_parquet(warehouse.con, out, since=date(2026, 9, 10))
    assert summary.partitions == ["2026-09", "2026-10", "2026-11"]  # September rewritten whole, from its first day
    assert august_file.stat().st_mtime_ns == august_mtime
    assert len(_read(out, "documents")) == 7
    assert sorted(r[0] for r in _read(out, "documents")) == sorted(
        r[0] for r in warehouse.con.execute("SELECT * FROM documents").fetchall())


def test_partition_emptied_in_the_window_is_removed(warehouse: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export_parquet(warehouse.con, out)
    warehouse.con.execute(
        "DELETE FROM detections WHERE document_id IN (SELECT id FROM documents WHERE published_at >= '2026-11-01')"
    )
    summary = export_parquet(warehouse.con, out, since=date(2026, 11, 1))
    assert summary.removed == ["detections/month=2026-11"]
    assert not (out / "detections" / "month=2026-11").exists() and (out / "documents" / "month=2026-11").exists()


def test_export_killed_midway_is_repaired(warehouse: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export_parquet(warehouse.con, out)
    # What a kill between the two renames of a swap leaves: the old partition moved aside, no new one in place.
    trash = out / ".pmon-trash" / "abc" / "documents"
    trash.mkdir(parents=True)
    (out / "documents" / "month=2026-10").rename(trash / "month=2026-10")
    (out / ".pmon-staging" / "dead" / "documents" / "month=2026-10").mkdir(parents=True)
    assert len(_read(out, "documents")) == 4
    export_parquet(warehouse.con, out, since=date(2026, 11, 1))  # a later export outside that partition's window
    assert len(_read(out, "documents")) == 5
    assert not (out / ".pmon-trash").exists() and not (out / ".pmon-staging").exists()


def test_by_day_and_layouts_do_not_mix(warehouse: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "export"
    summary = export_parquet(warehouse.con, out, by="day")
    assert summary.partitions == [d.isoformat() for d in DAYS]
    kinds = duckdb.sql(
        f"SELECT typeof(day) FROM read_parquet('{out}/documents/*/*.parquet', hive_partitioning = true) LIMIT 1"  # noqa: S608 - out is tmp_path
    ).fetchall()
    assert kinds == [("DATE",)]
    with pytest.raises(ExportError, match="another layout"):
        export_parquet(warehouse.con, out, by="month")
    with pytest.raises(ExportError, match="--by"):
        export_parquet(warehouse.con, out, by="year")


def test_pmon_export_command(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.close()
    out = tmp_path / "cli-export"
    done = subprocess.run(
        [sys.executable, "-m", "pmon.cli.main", "export", "--db", str(tmp_path / "w.duckdb"), "--out", str(out),
         "--since", "2026-10-01"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "documents" in done.stdout
    assert sorted(p.name for p in (out / "documents").iterdir()) == ["month=2026-10", "month=2026-11"]
    missing = subprocess.run(
        [sys.executable, "-m", "pmon.cli.main", "export", "--db", str(tmp_path / "none.duckdb"), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert missing.returncode == 1 and "no warehouse" in missing.stderr
