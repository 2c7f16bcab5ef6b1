"""The monitor flow end to end: real Prefect (ephemeral), real HTTP on 127.0.0.1, real model, real DuckDB file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pmon.flows.monitor import run_monitor
from pmon.ingestion.local_server import serve_directory
from pmon.warehouse import Warehouse, compare_windows

pytestmark = pytest.mark.slow


def _counts(db: Path) -> tuple[int, int]:
    with Warehouse.open(db, read_only=True) as wh:
        return wh.count("documents"), wh.count("detections")


def test_demo_run_fills_the_warehouse(demo_warehouse: Path) -> None:
    with Warehouse.open(demo_warehouse, read_only=True) as wh:
        docs = wh.count("documents")
        langs = {row[0] for row in wh.con.execute("SELECT DISTINCT lang FROM documents").fetchall()}
        scripts = {tuple(r) for r in wh.con.execute("SELECT DISTINCT lang, script FROM documents").fetchall()}
        detections = wh.count("detections")
        versions = wh.con.execute("SELECT DISTINCT model_version, codebook_version FROM detections").fetchall()
        run = wh.con.execute("SELECT status, documents_new, stage_seconds FROM runs").fetchall()
    assert docs >= 600
    assert {"en", "tg", "uz", "fa", "ps", "ug"} <= langs
    assert {("uz", "Latn"), ("uz", "Cyrl"), ("ug", "Arab"), ("ug", "Latn")} <= scripts
    assert detections > 100
    assert len(versions) == 1 and versions[0][1].startswith("iskp@")
    assert run[0][0] == "completed" and run[0][1] == docs and "fetch" in json.loads(run[0][2])


def test_demo_planted_trend_is_visible(demo_warehouse: Path) -> None:
    with Warehouse.open(demo_warehouse, read_only=True) as wh:
        rows = compare_windows(wh.con, recent_days=30, baseline_days=60)
    tg = next(r for r in rows if r["narrative"] == "economic_recruitment" and r["lang"] == "tg")
    assert tg["recent"] >= 15
    assert tg["recent_per_30d"] > 3 * tg["baseline_per_30d"]


def test_second_run_adds_nothing(demo_media: tuple[Path, str], demo_warehouse: Path, tmp_path: Path) -> None:
    db = tmp_path / "again.duckdb"
    shutil.copy(demo_warehouse, db)
    before = _counts(db)
    media, _ = demo_media
    summary = run_monitor(media / "sources.yaml", db)
    assert _counts(db) == before
    assert summary.documents_new == 0 and summary.detections_new == 0
    # Feeds answered 304 to the conditional GET: nothing was parsed or analysed again.
    assert any(s.not_modified for s in summary.sources)


def test_broken_items_quarantined_while_the_run_goes_on(tmp_path: Path, fixtures: Path) -> None:
    media = tmp_path / "media"
    shutil.copytree(fixtures / "ingestion", media)
    (media / "broken.xml").write_text("<rss><channel><item><title>unclosed", encoding="utf-8")
    with serve_directory(media) as base_url:
        (tmp_path / "sources.yaml").write_text(
            f"""
sources:
  - {{id: good-rss, kind: feed, location: "{base_url}/rss.xml", allow_private_network: true}}
  - {{id: broken-rss, kind: feed, location: "{base_url}/broken.xml", allow_private_network: true}}
  - {{id: gone, kind: feed, location: "{base_url}/missing.xml", allow_private_network: true}}
  - {{id: drop, kind: jsonl, location: media/drop.jsonl}}
""",
            encoding="utf-8",
        )
        summary = run_monitor(tmp_path / "sources.yaml", tmp_path / "w.duckdb")
    assert summary.status.startswith("completed")
    with Warehouse.open(tmp_path / "w.duckdb", read_only=True) as wh:
        by_source = dict(wh.con.execute("SELECT source_id, count(*) FROM documents GROUP BY 1").fetchall())
        reasons = wh.con.execute("SELECT source_id, reason FROM quarantine ORDER BY 1, 2").fetchall()
    assert by_source == {"good-rss": 2, "drop": 2}
    quarantined = {source for source, _ in reasons}
    assert {"broken-rss", "gone", "drop", "good-rss"} <= quarantined
    assert any("HTTP 404" in reason for source, reason in reasons if source == "gone")
    assert any("invalid JSON" in reason for source, reason in reasons if source == "drop")


def test_grouped_fetches_retry_a_flaky_source_and_keep_the_others(
    tmp_path: Path, fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pmon.pipeline.steps as steps
    from tests.reliability.hostile import hostile_server

    # Five sources in two fetch tasks (3 + 2): one answers 503 twice and then its feed, one is gone for good
    # (a TransientFetchError is tried again, an HTTP 404 is not).
    monkeypatch.setattr(steps, "FETCH_TASKS_PER_RUN", 2)
    monkeypatch.setattr(steps, "FETCH_RETRY_DELAYS_S", (0.2, 0.2))
    rss = (fixtures / "ingestion" / "rss.xml").read_bytes()
    with hostile_server() as server:
        lines = []
        for name in ("a", "flaky", "b", "gone", "c"):
            if name != "gone":
                server.route(f"/{name}.xml", rss, headers={"Content-Type": "application/rss+xml"},
                             fail_first=2 if name == "flaky" else 0)
            lines.append(f'  - {{id: {name}, kind: feed, location: "{server.base_url}/{name}.xml", '
                         "allow_private_network: true}")
        (tmp_path / "sources.yaml").write_text("sources:\n" + "\n".join(lines) + "\n", encoding="utf-8")
        summary = run_monitor(tmp_path / "sources.yaml", tmp_path / "w.duckdb")
        requested = [path for path, _ in server.requests]
    with Warehouse.open(tmp_path / "w.duckdb", read_only=True) as wh:
        by_source = dict(wh.con.execute("SELECT source_id, count(*) FROM documents GROUP BY 1").fetchall())
        reasons = wh.con.execute("SELECT source_id, reason FROM quarantine").fetchall()
    assert by_source == {"a": 2, "flaky": 2, "b": 2, "c": 2}
    assert requested.count("/flaky.xml") == 3 and requested.count("/a.xml") == 1
    assert requested.count("/gone.xml") == 1
    assert [s.source_id for s in summary.sources] == ["a", "flaky", "b", "gone", "c"]
    assert any(source == "gone" and "HTTP 404" in reason for source, reason in reasons)
    assert not any(source == "flaky" and "503" in reason for source, reason in reasons)


def test_fetch_groups_are_consecutive_and_capped() -> None:
    from pmon.pipeline.steps import FETCH_TASKS_PER_RUN, fetch_groups

    few = list(range(FETCH_TASKS_PER_RUN))
    assert fetch_groups(few) == [[i] for i in few]  # one source per task, as many tasks as sources
    many = list(range(547))
    groups = fetch_groups(many)
    assert len(groups) <= FETCH_TASKS_PER_RUN and [s for g in groups for s in g] == many
    assert fetch_groups([]) == []
