"""`pmon alerts`, `pmon digest`, `pmon serve`: narrative alerts, their digests and the scheduled service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pmon.cli.options import DEFAULT_DB, DbOption, reading
from pmon.cli.options import existing_warehouse as _existing
from pmon.cli.options import fail as _fail
from pmon.cli.output import OutputFormat, console, err_console

SinceOption = Annotated[str, typer.Option("--since", help="window: '7d', '2w' or an ISO date (first day included)")]
EvaluateOption = Annotated[
    bool, typer.Option("--evaluate/--no-evaluate", help="run the alert rules first (needs write access; idempotent)")
]
WaitOption = Annotated[float, typer.Option("--wait", help="seconds to wait for a run that holds the warehouse")]


def _alerts_table(rows: list[dict[str, Any]], title: str) -> None:
    from datetime import datetime, timedelta

    from pmon.alerts.digest import defang

    table = Table(title=title, show_lines=True)
    for column in ("kind", "subject", "window", "seen", "expected", "summary", "docs"):
        table.add_column(column, overflow="fold", justify="right" if column in ("seen", "expected", "docs") else "left")
    for row in rows:
        subject = row["narrative"] or ("unnamed group" if row["kind"] == "emerging" else row["source_id"])
        where = " · ".join(str(part) for part in (row["lang"], row["source_id"] if row["narrative"] else None) if part)
        last_day = datetime.fromisoformat(row["window_end"]) - timedelta(days=1)  # window_end is exclusive
        table.add_row(
            row["kind"], escape(f"{subject}" + (f" · {where}" if where else "")),
            f"{row['window_start'][5:10]}…{last_day:%m-%d}",
            "" if row["observed"] is None else f"{row['observed']:g}",
            "" if row["expected"] is None else f"{row['expected']:g}",
            # Summaries quote no post text, but emerging top terms come from posts: escape and defang.
            escape(defang(row["summary"])), str(len(row["evidence"])),
        )
    console.print(table)
    if not rows:
        console.print("[dim]no alerts[/dim]")
    else:
        console.print("[dim]evidence documents: --format json[/dim]")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the alert, digest and serve commands to `pmon`."""

    @app.command()
    def alerts(
        db: DbOption = DEFAULT_DB,
        since: SinceOption = "7d",
        kind: Annotated[list[str] | None, typer.Option("--kind", help="spike, spread, emerging or silence")] = None,
        evaluate: EvaluateOption = True,
        wait: WaitOption = 60.0,
        fmt: Annotated[
            OutputFormat, typer.Option("--format", help="table or json (csv: one row per alert)")
        ] = OutputFormat.table,
    ) -> None:
        """Narrative alerts whose window reaches into `--since`: spikes, spread, emerging groups, silent sources.

        JSON is a list of objects with kind, narrative, lang, source_id, window, observed, expected, score,
        summary, details and evidence (documents with id, url, title, excerpt, lang, published_at).
        """
        from pmon.alerts.rules import AlertKind, evaluate_alerts, list_alerts
        from pmon.warehouse import TrendQueryError, Warehouse, WarehouseBusy, parse_since

        unknown = [k for k in kind or [] if k not in AlertKind.__members__]
        if unknown:
            raise _fail(f"--kind: unknown {unknown}; choose from {', '.join(AlertKind.__members__)}")
        _existing(db)
        try:
            first_day = parse_since(since)
            if evaluate:
                with Warehouse.open(db, wait_seconds=wait, purpose="pmon alerts") as wh:
                    evaluate_alerts(wh.con)
            with reading(db, wait) as wh:
                found = list_alerts(wh.con, since=first_day, kinds=kind)
        except (TrendQueryError, WarehouseBusy, FileNotFoundError, ValueError) as exc:
            raise _fail(str(exc)) from exc
        rows = [alert.as_row() for alert in found]
        if fmt is OutputFormat.json:
            sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
        elif fmt is OutputFormat.csv:
            import csv

            writer = csv.writer(sys.stdout)
            writer.writerow(["id", "kind", "narrative", "lang", "source_id", "window_start", "window_end", "observed",
                             "expected", "score", "summary", "evidence"])
            for r in rows:
                writer.writerow([r["id"], r["kind"], r["narrative"], r["lang"], r["source_id"], r["window_start"],
                                 r["window_end"], r["observed"], r["expected"], r["score"], r["summary"],
                                 len(r["evidence"])])
        else:
            _alerts_table(rows, title=f"alerts since {first_day}")

    @app.command()
    def digest(
        db: DbOption = DEFAULT_DB,
        since: SinceOption = "7d",
        out: Annotated[
            Path | None, typer.Option("--out", help="folder for Markdown, HTML and JSON")
        ] = Path("data/digests"),
        email: Annotated[list[str] | None, typer.Option("--email", help="mail the digest to this address")] = None,
        smtp: Annotated[str | None, typer.Option("--smtp", help="SMTP server for --email, as HOST:PORT")] = None,
        webhook: Annotated[list[str] | None, typer.Option("--webhook", help="POST Slack-compatible JSON here")] = None,
        evaluate: EvaluateOption = True,
        wait: WaitOption = 600.0,
        fmt: Annotated[
            OutputFormat, typer.Option("--format", help="table or json: the delivery report")
        ] = OutputFormat.table,
    ) -> None:
        """Write (and send) the digest of `--since`: what changed, alerts with evidence, charts.

        Exit code 1 when a delivery still failed after its retries (it is recorded and retried next time).
        """
        from pmon.alerts.delivery import parse_target
        from pmon.alerts.publish import publish_digest
        from pmon.warehouse import TrendQueryError, Warehouse, WarehouseBusy, parse_since

        if email and not smtp:
            raise _fail("--email needs --smtp HOST:PORT")
        _existing(db)
        try:
            targets = [parse_target("email", address, smtp) for address in email or []]
            targets += [parse_target("webhook", url) for url in webhook or []]
            first_day = parse_since(since)
            with (
                Warehouse.open(db, wait_seconds=wait, purpose="pmon digest") as wh,
                console.status("evaluating alerts and rendering the digest", spinner="dots"),
            ):
                report = publish_digest(wh.con, first_day, out, targets, evaluate=evaluate)
        except (TrendQueryError, WarehouseBusy, FileNotFoundError, ValueError) as exc:
            raise _fail(str(exc)) from exc
        if fmt is OutputFormat.json:
            sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=1) + "\n")
        else:
            console.print(f"[bold]{escape(report.title)}[/bold]: {report.alerts} alerts "
                          f"({len(report.new_alerts)} new)")
            for name in ("html", "markdown"):
                if name in report.files:
                    console.print(f"  {name}: {report.files[name]}")
            for result in [*report.retried, *report.deliveries]:
                colour = {"delivered": "green", "skipped": "dim", "failed": "red"}[result.status]
                note = " (already delivered)" if result.status == "skipped" else ""
                error = f": {escape(result.error)}" if result.error else ""
                console.print(f"  [{colour}]{result.status}[/{colour}] {result.channel} → {escape(result.target)}"
                              f" after {result.attempts} attempt(s){note}{error}")
        if report.failed:
            err_console.print(f"[bold red]{len(report.failed)} delivery(ies) failed[/bold red]; recorded, and retried "
                              "by the next `pmon digest`")
            raise typer.Exit(1)

    @app.command()
    def serve(
        config: Annotated[Path, typer.Option("--config", "-c", help="sources YAML file")],
        db: DbOption = DEFAULT_DB,
        port: Annotated[
            int, typer.Option(help="port of the local Prefect server (when PREFECT_API_URL is unset)")
        ] = 4200,
        ui: Annotated[bool, typer.Option("--ui/--no-ui", help="serve Prefect's UI from the local server")] = True,
        daily: Annotated[
            str, typer.Option("--daily-digest", help="cron (UTC) of the daily digest, or 'off'")
        ] = "0 7 * * *",
        weekly: Annotated[
            str, typer.Option("--weekly-digest", help="cron (UTC) of the weekly digest, or 'off'")
        ] = "0 7 * * 1",
        digest_out: Annotated[
            Path, typer.Option("--digest-out", help="folder for scheduled digests")
        ] = Path("data/digests"),
        email: Annotated[
            list[str] | None, typer.Option("--email", help="mail scheduled digests to this address")
        ] = None,
        smtp: Annotated[str | None, typer.Option("--smtp", help="SMTP server for --email, as HOST:PORT")] = None,
        webhook: Annotated[list[str] | None, typer.Option("--webhook", help="POST scheduled digests here")] = None,
        work_pool: Annotated[str | None, typer.Option(
            "--work-pool", help="register the deployments for this work pool's workers instead of serving them "
            "(needs PREFECT_API_URL)")] = None,
        deployments: Annotated[bool, typer.Option(
            "--deployments", help="serve Prefect deployments instead (each run in a child process that loads the "
            "encoder again)")] = False,
        wait: WaitOption = 600.0,
    ) -> None:
        """Run the sources file on its schedules (each source group, plus digests), one line per run.

        Every run happens in this process, one at a time, so the encoder is loaded once. SIGTERM or Ctrl-C lets
        the run in flight finish and be recorded, then stops (a second signal stops at once). Runs are recorded
        on a Prefect server: PREFECT_API_URL, else `prefect server start` on 127.0.0.1, stopped on exit (its UI
        shows them). With --work-pool, registers deployments on the server of PREFECT_API_URL for that pool's
        workers and exits; with --deployments, serves them with Prefect's runner.
        """
        from pmon.alerts.delivery import parse_target
        from pmon.flows.serve import (
            DigestSchedule,
            PrefectServerError,
            build_deployments,
            register_deployments,
            scheduled_jobs,
            serve_deployments,
            serve_in_process,
        )
        from pmon.schemas.sources import SourcesFileError

        try:
            for address in email or []:
                parse_target("email", address, smtp)
            for url in webhook or []:
                parse_target("webhook", url)
            digests = [
                DigestSchedule(name, cron, since, out_dir=str(digest_out), email=tuple(email or ()), smtp=smtp,
                               webhook=tuple(webhook or ()))
                for name, cron, since in (("daily", daily, "1d"), ("weekly", weekly, "7d"))
                if cron.strip().lower() != "off"
            ]
            if not (work_pool or deployments):
                jobs = scheduled_jobs(config, db, digests, wait_seconds=wait)
            else:
                built = build_deployments(config, db, digests, wait_seconds=wait)
        except (SourcesFileError, ValueError) as exc:
            raise _fail(str(exc)) from exc
        import os

        try:
            if not (work_pool or deployments):
                serve_in_process(jobs, db_path=db, port=port, ui=ui, say=_say)
                return
            for d in built:
                schedules = ", ".join(_describe(s) for s in d.schedules or []) or "manual"
                console.print(f"  {escape(d.flow_name or '')}/{escape(d.name)}: {escape(schedules)}")
            if work_pool:
                ids = register_deployments(built, work_pool, db_path=db)
                console.print(f"registered {len(ids)} deployments for work pool {escape(work_pool)} on "
                              f"{escape(os.environ.get('PREFECT_API_URL', ''))}; start its workers with "
                              f"`prefect worker start --pool {escape(work_pool)}`")
                return
            if ui:
                url = os.environ.get("PREFECT_API_URL", f"http://127.0.0.1:{port}/api").removesuffix("/api")
                console.print(f"Prefect UI: {url}")
            serve_deployments(built, db_path=db, port=port, ui=ui)
        except PrefectServerError as exc:
            raise _fail(str(exc)) from exc


def _say(line: str) -> None:
    """One line of `pmon serve` output, flushed at once (its output usually goes to a log, not a terminal)."""
    print(line, flush=True)  # noqa: T201 - plain lines: no markup, no wrapping, whatever the terminal


def _describe(schedule: Any) -> str:
    inner = getattr(schedule, "schedule", schedule)
    if getattr(inner, "interval", None):
        return f"every {inner.interval}"
    if getattr(inner, "cron", None):
        return f"cron {inner.cron} UTC"
    return str(inner)
