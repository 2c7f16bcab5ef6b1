"""Rows out as a rich table, CSV or JSON: the `--format` option every listing command shares."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error line (often a path) is never broken


class OutputFormat(StrEnum):
    """--format choices."""

    table = "table"
    csv = "csv"
    json = "json"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def emit(rows: Sequence[dict[str, Any]], fmt: OutputFormat, title: str | None = None, columns: Sequence[str] | None = None) -> None:
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
            table.add_column(column, overflow="fold", justify="right" if rows and isinstance(rows[0].get(column), int | float) else "left")
        for row in rows:
            table.add_row(*("" if row.get(c) is None else str(_plain(row.get(c))) for c in columns))
        console.print(table)
        if not rows:
            console.print("[dim]no rows[/dim]")
