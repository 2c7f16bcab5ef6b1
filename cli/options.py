"""Options every command shares, defined once: `--db` (or `PMON_DB`), `--wait`, and opening the warehouse to read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from pmon.cli.output import err_console
from pmon.settings import DEFAULT_DB as DEFAULT_DB  # re-exported: the commands take their default from here

if TYPE_CHECKING:
    from pmon.warehouse import Warehouse

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB warehouse file", envvar="PMON_DB")]
#: DuckDB lets no other process open the file while a run writes it: read-only commands wait for the run.
ReadWaitOption = Annotated[float, typer.Option(
    "--wait", min=0, help="seconds to wait while a run is writing the warehouse", envvar="PMON_WAIT")]
DEFAULT_READ_WAIT = 60.0


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


@contextmanager
def reading(db: Path, wait: float = DEFAULT_READ_WAIT) -> Iterator[Warehouse]:
    """The warehouse opened read-only, after waiting up to `wait` seconds for a run that is writing it.

    Raises:
        typer.Exit: status 1 after a one-line error: no warehouse at `db`, or still written after the wait.
    """
    from pmon.warehouse import Warehouse, WarehouseBusy
    from pmon.warehouse.lock import writer_holding

    try:
        warehouse = Warehouse.open(existing_warehouse(db), read_only=True, wait_seconds=wait)
    except WarehouseBusy as exc:
        holder = writer_holding(db)
        raise fail(f"{db} is still being written after {wait:g} s" + (f", by {holder}" if holder else "")
                   + "; try again when the run has finished, or pass a longer --wait") from exc
    with warehouse:
        yield warehouse
