"""The items-per-source cap: a run takes at most that many new items from a source, says so in quarantine, and
later runs take the rest, until the warehouse holds what one uncapped run stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmon.flows.monitor import run_monitor
from pmon.ingestion import IngestLimits
from pmon.warehouse import Warehouse
from tests.reliability.conftest import Served
from tests.reliability.corpus import assert_same_contents, snapshot

pytestmark = pytest.mark.slow


def test_capped_runs_catch_up_without_loss(served_corpus: Served, clean_run: dict, tmp_path: Path) -> None:
    db = tmp_path / "capped.duckdb"
    limits = IngestLimits(max_items_per_source=30, allowed_private_hosts=["127.0.0.1"])
    stored = []
    for _ in range(4):
        summary = run_monitor(served_corpus.corpus.sources, db, limits=limits)
        assert summary.status == "completed"
        assert all(source.new <= 30 for source in summary.sources)
        # What the cap holds back is counted as held back, not as duplicates.
        fresh = max(0, 70 - 30 * len(stored))  # the jsonl drop's items not stored before this run
        jsonl = next((s for s in summary.sources if s.fetched == 70), None)
        assert jsonl is not None or not fresh
        if jsonl is not None:
            assert (jsonl.new, jsonl.held_back, jsonl.duplicates) == (min(30, fresh), max(0, fresh - 30), 70 - fresh)
        stored.append(summary.documents_new)
    assert stored == [105, 50, 10, 0]  # feed 50, jsonl 70, csv 20, telegram 25 items, 30 a run each
    assert_same_contents(snapshot(db), clean_run)
    with Warehouse.open(db, read_only=True) as wh:
        reasons = [row[0] for row in wh.con.execute("SELECT reason FROM quarantine WHERE stage = 'item'").fetchall()]
    assert "70 new items; 30 taken this run, the rest next run" in reasons
