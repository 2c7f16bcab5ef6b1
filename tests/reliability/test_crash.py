"""Crash safety: `pmon run` killed with SIGKILL at several points, then run again, ends with exactly the documents
and detections of a clean run: nothing lost, nothing doubled.

Two kinds of kill, each on a real `pmon run` process (and its process group: Prefect's temporary API server):
* deterministic, through the PMON_TEST_CRASH_AT hook (`pmon.warehouse.store.crash_point`): during the fetches, inside
  a batch's transaction before COMMIT, right after a commit, after the first fetch state is saved;
* timing-based, from outside: the moment the first batch's text shows up in DuckDB's write-ahead log (while the
  batch is being written or just after it was committed), with no help from the process.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from pmon.warehouse import Warehouse
from tests.reliability.conftest import Served
from tests.reliability.corpus import assert_same_contents, finish, kill_group, snapshot, start_run, wait_for

pytestmark = pytest.mark.slow

KILLED = -signal.SIGKILL


def _run(served: Served, db: Path, env: dict[str, str], crash_at: str | None = None) -> tuple[int, str, str]:
    process = start_run(served.corpus.sources, db, {**env, "PMON_TEST_CRASH_AT": crash_at} if crash_at else env)
    return finish(process)


def _statuses(db: Path) -> list[str]:
    with Warehouse.open(db, read_only=True) as wh:
        return [row[0] for row in wh.con.execute("SELECT status FROM runs ORDER BY started_at").fetchall()]


def test_killed_at_each_stage_then_rerun_equals_a_clean_run(
    served_corpus: Served, clean_run: dict, run_env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "crashed.duckdb"
    documents_after: dict[str, int] = {}
    # Each point is reachable in its turn: the first two runs store nothing or one of the two batches, the
    # third stores the other batch and dies before saving any fetch state, the fourth only saves fetch states.
    for point in ("fetched:2", "commit:2", "stored:1", "fetch-state:2"):
        code, _, err = _run(served_corpus, db, run_env, point)
        assert code == KILLED and f"killed at {point}" in err, f"PMON_TEST_CRASH_AT={point}: exit {code}: {err[-1500:]}"
        documents_after[point] = len(snapshot(db)["documents"]) if db.exists() else 0
    assert documents_after["fetched:2"] == 0
    assert 0 < documents_after["commit:2"] < served_corpus.corpus.documents  # one batch committed, one rolled back
    assert documents_after["stored:1"] == served_corpus.corpus.documents

    code, _, err = _run(served_corpus, db, run_env)
    assert code == 0, err[-2000:]
    assert_same_contents(snapshot(db), clean_run)
    assert _statuses(db) == ["crashed"] * 4 + ["completed"]

    # With every fetch state saved, one more run finds nothing new: the feed answers 304.
    code, out, err = _run(served_corpus, db, run_env)
    assert code == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["documents_new"] == 0 and summary["detections_new"] == 0
    assert next(s for s in summary["sources"] if s["source_id"] == "feed")["not_modified"]
    assert_same_contents(snapshot(db), clean_run)


def test_killed_from_outside_mid_run_then_rerun_equals_a_clean_run(
    served_corpus: Served, clean_run: dict, run_env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "killed.duckdb"
    wal = db.with_name(db.name + ".wal")
    # Texts of documents as DuckDB writes them to its log at COMMIT (a few, from anywhere in the corpus).
    markers = [row[5][:40].encode() for row in clean_run["documents"][::10]]

    def committed_something() -> bool:
        try:
            log = wal.read_bytes()
        except OSError:
            return False
        return any(marker in log for marker in markers)

    process = start_run(served_corpus.corpus.sources, db, run_env)
    started = time.monotonic()
    try:
        assert wait_for(committed_something, timeout=240, interval=0.02), "no batch was ever committed"
    finally:
        kill_group(process)
    code, _, err = finish(process)
    assert code == KILLED, (
        f"the run had already ended (exit {code}) {time.monotonic() - started:.1f}s in: {err[-1000:]}"
    )
    # Killed while DuckDB was writing the first batch to its log (it writes a big transaction in chunks and marks
    # it committed last: nothing of it is kept) or after that batch was committed (its documents are kept).
    partial = snapshot(db)["documents"]
    assert len(partial) <= len(clean_run["documents"])

    code, _, err = _run(served_corpus, db, run_env)
    assert code == 0, err[-2000:]
    assert_same_contents(snapshot(db), clean_run)
    assert _statuses(db) == ["crashed", "completed"]
