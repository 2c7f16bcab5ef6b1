"""Rows out as a rich table, CSV or JSON: the `--format` option every listing command shares."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

# Off a terminal (cron, logs, pipes) rich would wrap at 80 columns and split ids and paths across lines; there the
# width is this, so a line is as long as its content (tables are as wide as their cells, never padded to it).
UNWRAPPED_WIDTH = 10_000


def make_console(stderr: bool = False) -> Console:
    """A rich Console for stdout (or stderr) that wraps to the terminal, and never wraps when there is none.

    An explicit `COLUMNS` in the environment is honoured, as rich does on a terminal.
    """
    stream = sys.stderr if stderr else sys.stdout
    try:
        on_terminal = stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        on_terminal = False
    width = None if on_terminal or os.environ.get("COLUMNS") else UNWRAPPED_WIDTH
    return Console(stderr=stderr, soft_wrap=stderr, width=width)  # soft_wrap: an error line (often a path) never breaks


console = make_console()
err_console = make_console(stderr=True)


class OutputFormat(StrEnum):
    """--format choices."""

    table = "table"
    csv = "csv"
    json = "json"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def emit(
    rows: Sequence[dict[str, Any]], fmt: OutputFormat, title: str | None = None, columns: Sequence[str] | None = None
) -> None:
    """Write rows to stdout in the chosen format (JSON: a list of objects)."""
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt is OutputFormat.json:
        json.dump([{k: _plain(r.get(k)) for k in columns} for r in rows], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif fmt is OutputFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _plain(row.get(k)) for k in columns})
    else:
        table = Table(title=title, show_lines=False)
        for column in columns:
            numeric = bool(rows) and isinstance(rows[0].get(column), int | float)
            table.add_column(column, overflow="fold", justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*("" if row.get(c) is None else str(_plain(row.get(c))) for c in columns))
        console.print(table)
        if not rows:
            console.print("[dim]no rows[/dim]")
