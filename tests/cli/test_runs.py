"""`pmon runs` shows what a run record holds: stage seconds, per-source counts (held_back too), errors, and how
a run ended, including runs stopped by a signal (issue #14: they showed only `failed`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmon.cli.main import app
from pmon.warehouse import Warehouse

SOURCE = {"source_id": "tg-news", "fetched": 40, "new": 25, "duplicates": 5, "held_back": 10, "quarantined": 1,
          "not_modified": False, "error": None}


def _record(run_id: str, status: str, errors: list[str]) -> dict[str, object]:
    return {"run_id": run_id, "status": status, "documents_new": 25, "detections_new": 7, "quarantined": 1,
            "stage_seconds": {"fetch": 1.25, "analyse+store": 12.5}, "sources": [SOURCE], "errors": errors}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "pmon.duckdb"
    with Warehouse.open(path) as wh:
        # What run_pipeline writes when a run ends: normally, with errors, or stopped by a signal.
        for run_id, status, errors in [
            ("aaaa1111-done", "completed", []),
            ("bbbb2222-sigterm", "failed", ["TerminationSignal: Received SIGTERM"]),
            ("cccc3333-sigint", "failed", ["analysis of 3 documents failed: ValueError: x", "KeyboardInterrupt: "]),
            ("dddd4444-broken", "failed", ["WarehouseBusy: in use"]),
        ]:
            wh.start_run(run_id, "monitor")
            wh.finish_run(_record(run_id, status, errors))
        wh.start_run("eeee5555-killed", "monitor")  # killed with SIGKILL: still 'running' ...
        wh.start_run("eeee6666-next", "monitor")  # ... until the next run starts
    return path


def test_runs_json_has_everything_stored(db: Path) -> None:
    result = CliRunner().invoke(app, ["runs", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    runs = {r["run_id"]: r for r in json.loads(result.stdout)}
    done = runs["aaaa1111-done"]
    assert done["stage_seconds"] == {"fetch": 1.25, "analyse+store": 12.5}
    assert done["sources"] == [SOURCE] and done["errors"] == []
    assert {run_id: r["ended"] for run_id, r in runs.items()} == {
        "aaaa1111-done": "completed", "bbbb2222-sigterm": "interrupted (SIGTERM)",
        "cccc3333-sigint": "interrupted (SIGINT)", "dddd4444-broken": "failed",
        "eeee5555-killed": "crashed (killed; found by the next run)", "eeee6666-next": "running",
    }


def test_runs_table_shows_stages_held_back_and_endings(db: Path) -> None:
    result = CliRunner().invoke(app, ["runs", "--db", str(db), "--format", "csv"])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.strip().splitlines()
    assert header.split(",") == ["run_id", "flow", "started_at", "ended", "documents_new", "detections_new",
                                 "quarantined", "held_back", "errors", "stages"]
    sigterm = next(r for r in rows if r.startswith("bbbb2222"))
    assert "interrupted (SIGTERM)" in sigterm and ",10,1,fetch 1.2s analyse+store 12.5s" in sigterm


def test_runs_detail_by_id_prefix(db: Path) -> None:
    result = CliRunner().invoke(app, ["runs", "--db", str(db), "--detail", "cccc"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in ("cccc3333-sigint", "interrupted (SIGINT)", "analyse+store", "12.5", "tg-news", "held_back",
                     "analysis of 3 documents failed", "errors (2)"):
        assert expected in out, expected


@pytest.mark.parametrize(("detail", "message"), [("zzzz", "no run 'zzzz'"), ("eeee", "matches several runs")])
def test_runs_detail_errors_are_one_line(db: Path, detail: str, message: str) -> None:
    result = CliRunner().invoke(app, ["runs", "--db", str(db), "--detail", detail])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
