"""Operating commands: `pmon export` (date-partitioned Parquet for other engines)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmon.cli.options import DEFAULT_DB, DbOption
from pmon.cli.output import console, err_console


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the operating commands to `pmon` (called by cli/main.py)."""
    app.command("export")(export)


def export(
    out: Annotated[Path, typer.Option("--out", help="export folder; later exports update it in place")],
    db: DbOption = DEFAULT_DB,
    since: Annotated[
        str | None,
        typer.Option("--since", help="rewrite partitions from this one on: '90d', '12w' or an ISO date (default: all)"),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="partition by 'month' or 'day' of publication")] = "month",
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait while a run is writing the warehouse")] = 60.0,
) -> None:
    """Export documents and detections to date-partitioned Parquet (DuckDB, Spark, pandas and others read it)."""
    from pmon.warehouse import TrendQueryError, Warehouse, WarehouseBusy, parse_since
    from pmon.warehouse.export import ExportError, export_parquet

    try:
        first_day = parse_since(since) if since else None
        with Warehouse.open(db, read_only=True, wait_seconds=wait) as wh:
            summary = export_parquet(wh.con, out, since=first_day, by=by)
    except (TrendQueryError, ExportError, WarehouseBusy, FileNotFoundError) as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    window = f"partitions from {summary.partitions[0]} on" if since and summary.partitions else "all partitions"
    console.print(
        f"[bold]{summary.rows.get('documents', 0)}[/bold] documents and [bold]{summary.rows.get('detections', 0)}"
        f"[/bold] detections → {out} ({window}, {len(summary.partitions)} written"
        + (f", {len(summary.removed)} emptied ones removed" if summary.removed else "") + ")"
    )
    glob = (out / "documents" / "*" / "*.parquet").as_posix()
    query = f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true)"  # noqa: S608 - printed as a hint, never run
    console.print(f'read with: duckdb -c "{query}"')
