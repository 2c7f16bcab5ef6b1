"""Options every command shares, defined once: `--db` (or `PMON_DB`) and the check that the warehouse exists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pmon.cli.output import err_console

DEFAULT_DB = Path("data/pmon.duckdb")
DbOption = Annotated[Path, typer.Option("--db", help="DuckDB warehouse file", envvar="PMON_DB")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error in one line (markup in `message` is shown as is) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def existing_warehouse(db: Path) -> Path:
    """`db`, when the warehouse exists; otherwise a one-line error (opening it for writing would create an empty one).

    Raises:
        typer.Exit: status 1, after the error line.
    """
    if str(db) != ":memory:" and not db.exists():
        raise fail(f"no warehouse at {db}; run `pmon demo` or `pmon run` first, or check --db / PMON_DB")
    return db
