"""Read-only commands wait for a run that is writing the warehouse (DuckDB lets no other process open the file
meanwhile), and say so in one line when the wait runs out (issue #14: `pmon runs` failed 1 in 6 with a traceback
while `serve` ran). The writer is a real second process holding pmon's writer lock and DuckDB's file lock."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmon.cli.main import app
from pmon.warehouse import Warehouse

_WRITER = """
import sys, time
from pmon.warehouse import Warehouse
wh = Warehouse.open(sys.argv[1], purpose="test writer")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
wh.close()
"""

READ_ONLY_COMMANDS = [["runs"], ["quarantine"], ["trends"], ["review"], ["alerts", "--no-evaluate"]]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "pmon.duckdb"
    with Warehouse.open(db) as wh:
        wh.start_run("run-before-the-writer", "monitor")
        wh.finish_run({"run_id": "run-before-the-writer", "status": "completed", "documents_new": 2,
                       "detections_new": 1, "quarantined": 0, "stage_seconds": {"fetch": 0.5},
                       "sources": [], "errors": []})
    return db


@contextmanager
def writer(db: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process that opens the warehouse for writing and holds it for `seconds`."""
    process = subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(seconds)], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "holding"
        yield process
    finally:
        process.kill()  # by its pid; usually long gone
        process.wait(timeout=10)


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda c: c[0])
def test_read_only_commands_wait_for_the_writer(warehouse: Path, command: list[str]) -> None:
    with writer(warehouse, 2.0):
        started = time.monotonic()
        result = CliRunner().invoke(app, [*command, "--db", str(warehouse), "--wait", "60", "--format", "json"])
        waited = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert waited >= 1.5  # it waited for the writer to let go (2 s), rather than fail at once
    if command == ["runs"]:
        assert "run-before-the-writer" in result.stdout


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda c: c[0])
def test_a_wait_that_runs_out_is_one_line(warehouse: Path, command: list[str]) -> None:
    with writer(warehouse, 60.0):
        result = CliRunner().invoke(app, [*command, "--db", str(warehouse), "--wait", "1"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "after 1 s, by process" in lines[0] and "test writer" in lines[0]  # who holds it, and since when
