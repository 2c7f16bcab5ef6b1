"""The items-per-source cap: a run takes at most that many new items from a source, says so in quarantine, and
later runs take the rest, until the warehouse holds what one uncapped run stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmon.flows.monitor import run_monitor
from pmon.ingestion import IngestLimits
from tests.reliability.conftest import Served
from tests.reliability.corpus import assert_same_contents, snapshot
from pmon.warehouse import Warehouse

pytestmark = pytest.mark.slow


def test_capped_runs_catch_up_without_loss(served_corpus: Served, clean_run: dict, tmp_path: Path) -> None:
    db = tmp_path / "capped.duckdb"
    limits = IngestLimits(max_items_per_source=30, allowed_private_hosts=["127.0.0.1"])
    stored = []
    for _ in range(4):
        summary = run_monitor(served_corpus.corpus.sources, db, limits=limits)
        assert summary.status == "completed"
        assert all(source.new <= 30 for source in summary.sources)
        stored.append(summary.documents_new)
    assert stored == [105, 50, 10, 0]  # feed 50, jsonl 70, csv 20, telegram 25 items, 30 a run each
    assert_same_contents(snapshot(db), clean_run)
    with Warehouse.open(db, read_only=True) as wh:
        reasons = [row[0] for row in wh.con.execute("SELECT reason FROM quarantine WHERE stage = 'item'").fetchall()]
    assert "70 new items; 30 taken this run, the rest next run" in reasons
