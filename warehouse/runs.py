"""Run records as operators read them: the list (`pmon runs`) and one run in full (`pmon runs --detail`)."""

from __future__ import annotations

import json
from typing import Any

import duckdb

#: The exception a run was stopped by (its last error starts with the name) -> how it ended.
_INTERRUPTIONS = {"KeyboardInterrupt": "interrupted (SIGINT)", "TerminationSignal": "interrupted (SIGTERM)",
                  "SystemExit": "interrupted (exit)"}
_COLUMNS = ("run_id, flow, started_at, finished_at, status, documents_new, detections_new, quarantined, "
            "stage_seconds, sources, errors")


def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[dict[str, Any]]:
    """The latest runs, newest first, with everything stored about them (see `run_record`)."""
    cur = con.execute(f"SELECT {_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT ?", [limit])  # noqa: S608 - fixed columns
    return [_record(dict(zip([d[0] for d in cur.description], row, strict=True))) for row in cur.fetchall()]


def find_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    """One run by its id or an unambiguous prefix of it (as `pmon runs` shows them); None when none matches.

    Raises:
        ValueError: the prefix matches several runs.
    """
    cur = con.execute(
        f"SELECT {_COLUMNS} FROM runs WHERE starts_with(run_id, ?) ORDER BY started_at DESC LIMIT 2", [run_id]  # noqa: S608
    )
    rows = cur.fetchall()
    if len(rows) > 1:
        raise ValueError(f"{run_id!r} matches several runs; give more of the id")
    return _record(dict(zip([d[0] for d in cur.description], rows[0], strict=True))) if rows else None


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """Decode the JSON columns and say how the run ended (`ended`): its status, or how it was interrupted."""
    for key in ("stage_seconds", "sources", "errors"):
        row[key] = json.loads(row[key]) if row[key] else ({} if key == "stage_seconds" else [])
    row["ended"] = _ending(row["status"], row["errors"])
    return row


def _ending(status: str, errors: list[str]) -> str:
    if status == "failed" and errors:
        name = errors[-1].partition(":")[0]
        return _INTERRUPTIONS.get(name, "failed")
    if status == "crashed":
        return "crashed (killed; found by the next run)"
    return status
