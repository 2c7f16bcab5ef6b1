"""Concurrency: two runs on one warehouse never interleave; the second waits or stops with a clear message.

Every writer (`pmon run`, scheduled runs under `pmon serve`, digests, `pmon train`) opens the warehouse through
`Warehouse.open`, which takes the advisory lock `<db>.lock`: these tests hold it from another process or run two
real `pmon run` processes at once, and check that no row is lost or doubled.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pmon.warehouse import Warehouse, WarehouseBusy
from tests.reliability.conftest import Served
from tests.reliability.corpus import REPO, assert_same_contents, finish, snapshot, start_run


class Holder:
    """Another process that holds the warehouse open for writing until told to let go."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; from pmon.warehouse import Warehouse; "
             f"w = Warehouse.open({str(db)!r}, purpose='nightly import'); print('ready', flush=True); "
             "sys.stdin.readline(); w.close()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(REPO),
        )
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def release(self) -> None:
        """Close the warehouse and end."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Holder]:
    held = Holder(tmp_path / "w.duckdb")
    yield held
    held.release()
    if held.process.poll() is None:
        held.process.kill()


def test_run_stops_with_a_message_naming_the_holder(holder: Holder, served_corpus: Served, run_env: dict[str, str],
                                                    tmp_path: Path) -> None:
    process = start_run(served_corpus.corpus.sources, tmp_path / "w.duckdb", run_env, "--wait", "0")
    code, _, err = finish(process, timeout=180)
    assert code == 1
    message = " ".join(err.split())
    assert f"is in use by process {holder.process.pid} (nightly import" in message and "--wait" in message


def test_writer_waits_then_goes_on(holder: Holder, tmp_path: Path) -> None:
    with pytest.raises(WarehouseBusy, match="nightly import"):
        Warehouse.open(tmp_path / "w.duckdb", wait_seconds=0.3)
    started = time.monotonic()
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"]).wait()
    holder.release()
    with Warehouse.open(tmp_path / "w.duckdb", wait_seconds=30) as wh:
        assert wh.count("documents") == 0
    assert time.monotonic() - started >= 1.5


def test_reader_waits_for_a_writer_or_says_why(holder: Holder, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with pytest.raises(WarehouseBusy, match="being written by a running job"):
        Warehouse.open(db, read_only=True, wait_seconds=0.3)
    export = subprocess.Popen(
        [
            sys.executable, "-m", "pmon.cli.main", "export",
            "--db", str(db), "--out", str(tmp_path / "out"), "--wait", "60",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO),
    )
    time.sleep(1.0)
    assert export.poll() is None  # still waiting for the writer
    holder.release()
    out, err = export.communicate(timeout=120)
    assert export.returncode == 0, err
    assert "0 documents" in " ".join(out.split())


def test_a_duckdb_shell_holding_the_file_is_told_apart(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse.open(db).close()
    shell = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('ready', flush=True); "
         "sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert shell.stdout is not None and shell.stdout.readline().strip() == "ready"
        for _ in range(2):  # twice: the first attempt let go of pmon's own lock, or the second would name it
            with pytest.raises(WarehouseBusy, match="open in another program"):
                Warehouse.open(db, wait_seconds=0.5)
    finally:
        assert shell.stdin is not None
        shell.stdin.write("\n")
        shell.stdin.flush()
        shell.wait(timeout=30)
    with Warehouse.open(db, wait_seconds=5) as wh:  # the shell has gone: the writer gets in
        assert wh.count("documents") == 0


@pytest.mark.slow
def test_two_runs_at_once_one_after_the_other_nothing_lost(
    served_corpus: Served, clean_run: dict, run_env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "both.duckdb"
    # The same Prefect home for both, as two `pmon run` typed in two terminals would share data/.prefect.
    first = start_run(served_corpus.corpus.sources, db, run_env, "--wait", "300")
    second = start_run(served_corpus.corpus.sources, db, run_env, "--wait", "300")
    results = [finish(first), finish(second)]
    for code, _, err in results:
        assert code == 0, err[-2000:]
    summaries = [json.loads(out) for _, out, _ in results]
    assert sorted(s["documents_new"] for s in summaries) == [0, served_corpus.corpus.documents]
    assert_same_contents(snapshot(db), clean_run)
    with Warehouse.open(db, read_only=True) as wh:
        runs = wh.con.execute("SELECT started_at, finished_at, status FROM runs ORDER BY started_at").fetchall()
    assert [r[2] for r in runs] == ["completed", "completed"]
    assert runs[1][0] >= runs[0][1], "the two runs overlapped"
