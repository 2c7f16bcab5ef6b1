"""Export documents and detections to date-partitioned Parquet, for installations that outgrow one DuckDB file.

Layout (Hive-style partitions, read by DuckDB, Spark, Trino, pandas/pyarrow, Polars)::

    OUT/documents/month=2026-11/data_0.parquet
    OUT/detections/month=2026-11/data_0.parquet     # a detection sits in its document's partition
    OUT/sources.parquet

Partitions follow the document's `published_at` (what trends count by), by month (default) or by day.
Re-exporting is idempotent: every partition in the window is written whole into a staging folder and then
swapped in by renaming directories, so readers never see a half-written or doubled partition, and an export
killed midway is repaired by the next one. Partitions before the window are left as they are.

Example:
    >>> with Warehouse.open("data/pmon.duckdb", read_only=True) as wh:          # doctest: +SKIP
    ...     export_parquet(wh.con, "exports/pmon", since=date(2026, 9, 1))
    >>> duckdb.sql("SELECT month, count(*) FROM read_parquet('exports/pmon/documents/*/*.parquet', "
    ...            "hive_partitioning = true) GROUP BY ALL")                       # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

#: Partition granularity → (partition column name, SQL expression over a document's published_at).
PARTITIONS = {
    "month": ("month", "strftime(d.published_at, '%Y-%m')"),
    "day": ("day", "strftime(d.published_at, '%Y-%m-%d')"),
}
TABLES = ("documents", "detections")
_STAGING = ".pmon-staging"
_TRASH = ".pmon-trash"


class ExportError(ValueError):
    """An export that cannot be done as asked (unknown partitioning, an output folder of another layout)."""


@dataclass
class ExportSummary:
    """What one export wrote."""

    out_dir: Path
    by: str
    since: date | None
    rows: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _first_day(since: date, by: str) -> date:
    """The first day of the partition `since` falls in: partitions are always rewritten whole."""
    return since.replace(day=1) if by == "month" else since


def export_parquet(
    con: duckdb.DuckDBPyConnection, out_dir: str | Path, since: date | None = None, by: str = "month"
) -> ExportSummary:
    """Write documents and detections as partitioned Parquet under `out_dir`, replacing the partitions in the window.

    Args:
        con: a warehouse connection (read-only is enough).
        out_dir: the export folder (created as needed); the same folder is updated by later exports.
        since: rewrite only the partitions from the one holding this day on (None: all, and partitions with
            no rows left are removed, so the folder mirrors the warehouse).
        by: "month" or "day".

    Returns:
        Rows written per table and the partitions written and removed.

    Raises:
        ExportError: unknown `by`, or `out_dir` already holds partitions of the other granularity.
    """
    if by not in PARTITIONS:
        raise ExportError(f"--by: expected one of {', '.join(PARTITIONS)}, got {by!r}")
    column, expression = PARTITIONS[by]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_layout(out, column)
    _recover(out)
    start = _first_day(since, by) if since else None
    summary = ExportSummary(out_dir=out, by=by, since=since)
    staging = out / _STAGING / uuid.uuid4().hex
    staging.mkdir(parents=True)
    try:
        where = "WHERE d.published_at >= ?" if start else ""
        params = [start] if start else []
        queries = {
            "documents": f"SELECT d.*, {expression} AS {column} FROM documents d {where}",  # noqa: S608 - PARTITIONS' expressions, a fixed WHERE
            "detections": f"SELECT det.*, {expression} AS {column} FROM detections det "  # noqa: S608 - PARTITIONS' expressions, a fixed WHERE
                          f"JOIN documents d ON d.id = det.document_id {where}",
        }
        for table, query in queries.items():
            summary.rows[table] = int(con.execute(f"SELECT count(*) FROM ({query})", params).fetchall()[0][0])  # noqa: S608
            if summary.rows[table]:
                target = (staging / table).as_posix().replace("'", "''")
                con.execute(
                    f"COPY ({query} ORDER BY {column}) TO '{target}' "  # noqa: S608 - our own names and paths
                    f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({column}))",
                    params,
                )
        first_value = _partition_value(start, by) if start else None
        for table in TABLES:
            written = (
                sorted(p.name for p in (staging / table).glob(f"{column}=*")) if (staging / table).exists() else []
            )
            destination = out / table
            destination.mkdir(exist_ok=True)
            for name in written:
                _swap_in(staging / table / name, destination / name, out)
                if table == "documents":
                    summary.partitions.append(name.partition("=")[2])
            # Partitions of the window that have no rows any more (detections relabelled away) must go too.
            for stale in sorted(destination.glob(f"{column}=*")):
                value = stale.name.partition("=")[2]
                if stale.name not in written and (first_value is None or value >= first_value):
                    _discard(stale, out)
                    summary.removed.append(f"{table}/{stale.name}")
        _write_sources(con, out, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _cleanup_empty(out / _STAGING)
        _cleanup_empty(out / _TRASH)
    return summary


def _partition_value(day: date, by: str) -> str:
    return day.strftime("%Y-%m") if by == "month" else day.isoformat()


def _check_layout(out: Path, column: str) -> None:
    for table in TABLES:
        other = [p.name for p in (out / table).glob("*=*")] if (out / table).exists() else []
        foreign = [name for name in other if not name.startswith(f"{column}=")]
        if foreign:
            raise ExportError(
                f"{out / table} holds partitions {foreign[:3]} of another layout; export with the same --by "
                "or into a new folder"
            )


def _swap_in(new: Path, target: Path, out: Path) -> None:
    """Replace a partition directory by renames only: readers see the old one or the new one, never a mix."""
    if target.exists():
        trash = out / _TRASH / uuid.uuid4().hex / target.parent.name
        trash.mkdir(parents=True)
        target.rename(trash / target.name)
        new.rename(target)
        shutil.rmtree(trash.parent, ignore_errors=True)
    else:
        new.rename(target)


def _discard(partition: Path, out: Path) -> None:
    trash = out / _TRASH / uuid.uuid4().hex / partition.parent.name
    trash.mkdir(parents=True)
    partition.rename(trash / partition.name)
    shutil.rmtree(trash.parent, ignore_errors=True)


def _recover(out: Path) -> None:
    """Repair what a killed export left: a partition moved aside but not replaced is put back; the rest goes."""
    trash_root = out / _TRASH
    if trash_root.exists():
        for moved in sorted(trash_root.glob("*/*/*=*")):
            home = out / moved.parent.name / moved.name
            if not home.exists():
                home.parent.mkdir(parents=True, exist_ok=True)
                moved.rename(home)
        shutil.rmtree(trash_root, ignore_errors=True)
    shutil.rmtree(out / _STAGING, ignore_errors=True)


def _write_sources(con: duckdb.DuckDBPyConnection, out: Path, staging: Path) -> None:
    path = staging / "sources.parquet"
    target = path.as_posix().replace("'", "''")
    con.execute(f"COPY (SELECT * FROM sources ORDER BY id) TO '{target}' (FORMAT parquet)")  # noqa: S608
    path.replace(out / "sources.parquet")


def _cleanup_empty(folder: Path) -> None:
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()
