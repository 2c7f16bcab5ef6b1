"""`pmon ui` (the analyst's workspace in the browser), and its terminal twins `pmon documents` and `pmon show`."""

from __future__ import annotations

import contextlib
import getpass
import os
from typing import Annotated

import typer

from pmon.cli.options import DEFAULT_DB, DbOption, existing_warehouse, fail
from pmon.cli.output import OutputFormat, console, emit

TOKEN_ENV = "PMON_UI_TOKEN"  # noqa: S105 - the variable's name, not a secret


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `ui`, `documents` and `show` to `pmon` (called by cli/main.py)."""
    app.command("ui")(ui)
    app.command("documents")(documents)
    app.command("show")(show)


def ui(
    db: DbOption = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="address to bind; anything but loopback requires --token")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8765,
    token: Annotated[str | None, typer.Option(
        help=f"access token every request must carry (or {TOKEN_ENV}); required off loopback", envvar=TOKEN_ENV)
    ] = None,
    analyst: Annotated[
        str | None, typer.Option(help="who the verdicts are stored as (default: the login name)")
    ] = None,
) -> None:
    """Serve the analyst's workspace: trends, narratives, documents, search, alerts, review, runs, sources."""
    import uvicorn

    from pmon.ui import UiSettings, create_app, requires_token
    from pmon.warehouse import Warehouse, WarehouseBusy

    existing_warehouse(db)
    if requires_token(host) and not token:
        raise fail(f"binding {host} exposes the warehouse beyond this machine: pass --token or set {TOKEN_ENV}")
    # Bring the schema up to date now if no run holds the file (otherwise the first queued verdict does it).
    with contextlib.suppress(WarehouseBusy):
        Warehouse.open(db, wait_seconds=1, purpose="pmon ui migrate").close()
    settings = UiSettings(db=db, token=token, analyst=analyst or _login())
    app = create_app(settings)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"  # noqa: S104 - a comparison, no bind
    console.print(f"pmon ui on [bold]{url}{'?token=…' if token else ''}[/bold] over {db} (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER")


def documents(
    db: DbOption = DEFAULT_DB,
    q: Annotated[str | None, typer.Option("--q", "--search", help="words that must all occur (any script)")] = None,
    narrative: Annotated[str | None, typer.Option(help="narrative id (a parent matches its children)")] = None,
    lang: Annotated[str | None, typer.Option(help="language code, e.g. tg")] = None,
    source: Annotated[str | None, typer.Option(help="source id")] = None,
    stance: Annotated[str | None, typer.Option(help="promote, report, counter or none")] = None,
    since: Annotated[str | None, typer.Option(help="'30d', '12w' or an ISO date")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json")] = OutputFormat.table,
) -> None:
    """List, filter and search documents, newest first."""
    from pmon.warehouse import TrendQueryError, Warehouse, WarehouseBusy, parse_since
    from pmon.warehouse.browse import STANCES, DocumentFilter, search_documents

    if stance is not None and stance not in STANCES:
        raise fail(f"--stance: one of {', '.join(STANCES)}, not {stance!r}")
    try:
        flt = DocumentFilter(q=q, narrative=narrative, lang=lang, source=source, stance=stance,
                             since=parse_since(since) if since else None, limit=limit)
        with Warehouse.open(existing_warehouse(db), read_only=True, wait_seconds=10) as wh:
            rows = search_documents(wh.con, flt)
    except (TrendQueryError, WarehouseBusy) as exc:
        raise fail(str(exc)) from exc
    for row in rows:
        row["narratives"] = ",".join(row["narratives"] or []) if fmt is not OutputFormat.json else row["narratives"]
    columns = ["id", "published_at", "source_id", "lang", "stance", "narratives", "title"]
    if fmt is not OutputFormat.table:
        columns += ["url", "excerpt"]
    emit(rows, fmt, title="documents", columns=columns)


def show(
    document_id: Annotated[str, typer.Argument(help="a document id, or a unique prefix of one")],
    db: DbOption = DEFAULT_DB,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table (readable) or json")] = OutputFormat.table,
) -> None:
    """One document: its text, detections with stance, score and evidence, and analysts' verdicts."""
    import json

    from rich.markup import escape

    from pmon.alerts.digest import defang
    from pmon.schemas.codebook import load_codebook
    from pmon.warehouse import Warehouse, WarehouseBusy
    from pmon.warehouse.browse import DocumentIdError, get_document, resolve_document_id

    try:
        with Warehouse.open(existing_warehouse(db), read_only=True, wait_seconds=10) as wh:
            doc = get_document(wh.con, resolve_document_id(wh.con, document_id))
    except (DocumentIdError, WarehouseBusy) as exc:
        raise fail(str(exc)) from exc
    assert doc is not None  # noqa: S101 - narrows the type: resolve_document_id found it
    if fmt is OutputFormat.json:
        print(json.dumps(doc, ensure_ascii=False, indent=1, default=str))
        return
    labels = {n.id: n.label for n in load_codebook().narratives}
    console.print(f"[bold]{escape(defang(doc['title'] or '(no title)'))}[/bold]", highlight=False)
    console.print(f"{doc['id']}  {doc['source_id']}  {doc['published_at']:%Y-%m-%d %H:%M}  {doc['lang']} "
                  f"({doc['script']})  {escape(defang(doc['url'] or ''))}", highlight=False)
    for det in doc["detections"]:
        console.print(f"- {det['narrative']} ({escape(labels.get(det['narrative'], '?'))}): stance {det['stance']}, "
                      f"score {det['score']:.3f}", highlight=False)
        for sentence in det["evidence"] or []:
            console.print(f"    > {escape(defang(sentence))}", highlight=False)
    for member in doc["message"]:
        console.print(f"- same message in {member['lang']}: {member['id']}  {member['source_id']}  "
                      f"{escape(defang(member['title'] or ''))}  (+{member['lag_hours']:.1f} h after the first)",
                      highlight=False)
    for label in doc["labels"]:
        console.print(f"- verdict: {label['verdict']} {label['narrative']} by {label['analyst'] or '?'} "
                      f"at {label['labelled_at']:%Y-%m-%d %H:%M}", highlight=False)
    console.print()
    console.print(escape(defang(doc["text"])), highlight=False)
