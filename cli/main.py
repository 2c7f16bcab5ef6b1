"""`pmon`: the command line, thin over the library (flows/, warehouse/, classifiers/, alerts/)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmon.cli.options import DEFAULT_DB, DEFAULT_READ_WAIT, DbOption, ReadWaitOption, fail, reading
from pmon.cli.output import OutputFormat, console, emit

if TYPE_CHECKING:
    from pmon.pipeline import RunSummary

app = typer.Typer(
    name="pmon",
    help="Multilingual propaganda monitoring: ingest media, identify language, classify narratives, trend them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
sources_app = typer.Typer(help="List and validate sources files.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure language identification and narrative classification on gold files.",
                       no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(eval_app, name="eval")

FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, csv or json")]


# -- monitoring runs ---------------------------------------------------------------------------------------------
@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="sources YAML file")],
    db: DbOption = DEFAULT_DB,
    only: Annotated[list[str] | None, typer.Option("--only", help="run only these source ids")] = None,
    group: Annotated[str | None, typer.Option("--group", help="run only this source group")] = None,
    wait: Annotated[
        float, typer.Option("--wait", help="seconds to wait for another run on the same warehouse")
    ] = 600.0,
    dask: Annotated[
        str | None, typer.Option("--dask", help="run tasks on a Dask cluster: its scheduler address, or 'local'")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Run the monitor flow once over a sources file."""
    from pmon.flows.monitor import dask_task_runner, run_monitor
    from pmon.schemas.sources import SourcesFileError
    from pmon.warehouse import WarehouseBusy

    runner = None if dask is None else dask_task_runner(None if dask == "local" else dask)
    try:
        summary = run_monitor(config, db, task_runner=runner, only=only, group=group, wait_seconds=wait,
                              progress=fmt is OutputFormat.table)
    except (SourcesFileError, WarehouseBusy) as exc:
        raise fail(str(exc)) from exc
    _print_summary(summary, fmt)


def _print_summary(summary: RunSummary, fmt: OutputFormat) -> None:
    record = summary.as_record()
    if fmt is OutputFormat.json:
        console.print_json(json.dumps(record))
        return
    emit(record["sources"], OutputFormat.table, title=f"run {record['run_id'][:8]}: {record['status']}",
         columns=["source_id", "fetched", "new", "duplicates", "held_back", "quarantined", "not_modified", "error"])
    console.print(
        f"[bold]{record['documents_new']}[/bold] new documents, "
        f"[bold]{record['detections_new']}[/bold] new detections, "
        f"[bold]{record['quarantined']}[/bold] quarantined; stages: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in record["stage_seconds"].items())
    )


@app.command()
def demo(
    db: DbOption = Path("data/demo.duckdb"),
    media_dir: Annotated[Path, typer.Option(help="where the synthetic media are rendered")] = Path("data/demo-media"),
    port: Annotated[int, typer.Option(help="port of the local media server on 127.0.0.1 (0: any)")] = 8731,
) -> None:
    """Serve the bundled synthetic media on 127.0.0.1, run the real monitor flow on them, print the trends."""
    from pmon.cli.demo import run_demo

    run_demo(db=db, media_dir=media_dir, port=port)


# -- trends ------------------------------------------------------------------------------------------------------
@app.command()
def trends(
    db: DbOption = DEFAULT_DB,
    by: Annotated[
        str, typer.Option("--by", help="comma-separated: narrative, lang, variety, source")
    ] = "narrative,lang",
    period: Annotated[str, typer.Option("--period", help="day, week or month")] = "week",
    since: Annotated[str, typer.Option("--since", help="'90d', '12w' or an ISO date")] = "90d",
    until: Annotated[str | None, typer.Option("--until", help="last day included (ISO date)")] = None,
    variety: Annotated[
        str | None, typer.Option("--variety", help="only Persian documents of this variety: prs (Dari), pes, und")
    ] = None,
    unit: Annotated[
        str, typer.Option("--unit", help="document, or message: a release and its translations count once")
    ] = "document",
    narrative: Annotated[str | None, typer.Option("--narrative", help="only this narrative (id)")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="only documents in this language")] = None,
    source: Annotated[str | None, typer.Option("--source", help="only documents of this source (id)")] = None,
    fmt: FormatOption = OutputFormat.table,
    wait: ReadWaitOption = DEFAULT_READ_WAIT,
) -> None:
    """Documents (or messages) and share per narrative × language × Persian variety × source × period."""
    from datetime import date

    from pmon.warehouse import TrendQuery, TrendQueryError, parse_since, query_trends
    from pmon.warehouse.links import query_message_trends

    try:
        query = TrendQuery(
            by=tuple(part.strip() for part in by.split(",") if part.strip()), period=period,
            since=parse_since(since), until=date.fromisoformat(until) if until else None, variety=variety,
            narrative=narrative, lang=lang, source=source,
        )
        if unit not in ("document", "message"):
            raise TrendQueryError(f"--unit: expected document or message, got {unit!r}")
        if unit == "message" and (variety or "variety" in query.by or narrative or lang or source):
            raise TrendQueryError("--variety, --narrative, --lang and --source filter documents: use --unit document")
        with reading(db, wait) as wh:
            rows = query_trends(wh.con, query) if unit == "document" else query_message_trends(wh, query)
    except (TrendQueryError, ValueError) as exc:
        raise fail(str(exc)) from exc
    emit(rows, fmt, title=f"trends ({unit}s) by {by} per {period} since {since}")


@app.command()
def runs(
    db: DbOption = DEFAULT_DB,
    limit: int = 10,
    detail: Annotated[str | None, typer.Option("--detail", help="one run in full: its id or the start of it")] = None,
    fmt: FormatOption = OutputFormat.table,
    wait: ReadWaitOption = DEFAULT_READ_WAIT,
) -> None:
    """The latest runs: how each ended, counts, seconds per stage; --detail RUN_ID adds per-source counts and errors.

    JSON has every stored field: stage_seconds, sources (fetched, new, duplicates, held_back, ...) and errors.
    """
    from pmon.warehouse.runs import find_run, list_runs

    with reading(db, wait) as wh:
        try:
            found = [find_run(wh.con, detail)] if detail else list_runs(wh.con, limit)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    if detail and found[0] is None:
        raise fail(f"no run {detail!r} in {db}; `pmon runs` lists them")
    records = [r for r in found if r is not None]
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=1, default=str) + "\n")
        return
    if detail:
        _print_run_detail(records[0], fmt)
        return
    rows = [{"run_id": r["run_id"], "flow": r["flow"], "started_at": r["started_at"], "ended": r["ended"],
             "documents_new": r["documents_new"], "detections_new": r["detections_new"],
             "quarantined": r["quarantined"],
             "held_back": sum(s.get("held_back", 0) for s in r["sources"]), "errors": len(r["errors"]),
             "stages": " ".join(f"{k} {v:.1f}s" for k, v in r["stage_seconds"].items())} for r in records]
    emit(rows, fmt, title="runs (pmon runs --detail RUN_ID for one in full)")


def _print_run_detail(record: dict[str, Any], fmt: OutputFormat) -> None:
    """One run's tables: the run, its stages, its sources and its errors (CSV: the sources only, one table)."""
    columns = ["source_id", "fetched", "new", "duplicates", "held_back", "quarantined", "not_modified", "error"]
    if fmt is OutputFormat.csv:
        emit(record["sources"], fmt, columns=columns)
        return
    emit([{k: record[k] for k in ("run_id", "flow", "started_at", "finished_at", "ended", "documents_new",
                                  "detections_new", "quarantined")}], fmt, title=f"run {record['run_id']}")
    emit([{"stage": k, "seconds": round(v, 3)} for k, v in record["stage_seconds"].items()], fmt,
         title="seconds per stage")
    emit(record["sources"], fmt, title="sources", columns=columns)
    emit([{"error": e} for e in record["errors"]], fmt, title=f"errors ({len(record['errors'])})")


@app.command()
def quarantine(
    db: DbOption = DEFAULT_DB, limit: int = 50, fmt: FormatOption = OutputFormat.table,
    wait: ReadWaitOption = DEFAULT_READ_WAIT,
) -> None:
    """Items that could not be ingested, with their reason."""
    with reading(db, wait) as wh:
        cur = wh.con.execute(
            "SELECT source_id, stage, reason, location, times_seen, last_seen_at FROM quarantine "
            "ORDER BY last_seen_at DESC LIMIT ?", [limit])
        rows = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]
    emit(rows, fmt, title="quarantine")


# -- sources -----------------------------------------------------------------------------------------------------
@sources_app.command("list")
def sources_list(
    config: Annotated[Path, typer.Option("--config", "-c", help="sources YAML file")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the sources of a sources file."""
    from pmon.schemas.sources import SourcesFileError, load_sources

    try:
        parsed = load_sources(config)
    except SourcesFileError as exc:
        raise fail(str(exc)) from exc
    rows = [
        {"id": s.id, "kind": s.kind.value, "location": s.location, "langs": ",".join(s.expected_langs),
         "group": s.group, "schedule": s.schedule or "manual", "enabled": s.enabled}
        for s in parsed.sources
    ]
    emit(rows, fmt, title=str(config))


@sources_app.command("validate")
def sources_validate(config: Annotated[Path, typer.Option("--config", "-c", help="sources YAML file")]) -> None:
    """Check a sources file, and that each enabled source's local file exists; the message names each bad field."""
    from pmon.schemas.sources import SourcesFileError, load_sources

    try:
        parsed = load_sources(config, check_files=True)
    except SourcesFileError as exc:
        raise fail(str(exc)) from exc
    console.print(f"[green]ok[/green]: {len(parsed.sources)} sources in {config}")


def _register_plugins() -> None:
    """Commands that live beside their library code (language ID, models, narratives, alerts)."""
    import importlib

    for name in ("pmon.cli.language", "pmon.cli.models", "pmon.cli.narratives", "pmon.cli.alerts",
                 "pmon.cli.operations", "pmon.cli.ui", "pmon.cli.links"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app, eval_app)


_register_plugins()

if __name__ == "__main__":
    app()
