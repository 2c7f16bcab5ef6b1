"""The demo's planted signals raise the alerts they were planted for.

Two warehouses: the demo media stored with their true labels (`truth_warehouse`, no model needed: the rules
alone), and the real demo run (`demo_warehouse`, the lead's session fixture in tests/conftest.py: ingestion,
language ID and the narrative classifier, then the rules). Tests on the second are skipped where that fixture
does not exist.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from pmon.alerts.rules import AlertKind, AlertSettings, evaluate_alerts
from pmon.warehouse import Warehouse
from tests.alerts.conftest import NOW

QUIET = AlertSettings(emerging_enabled=False)


def _subjects(alerts: list) -> set[tuple[str, str | None, str | None, str | None]]:
    return {(a.kind.value, a.narrative, a.lang, a.source_id) for a in alerts}


def test_planted_trend_spread_and_silence_with_true_labels(truth_copy: Path) -> None:
    with Warehouse.open(truth_copy) as wh:
        alerts = evaluate_alerts(wh.con, QUIET, now=NOW)
    assert _subjects(alerts) == {
        ("spike", "economic_recruitment", "tg", None),
        ("spread", "anti_regional.china", "uz", None),
        ("silence", None, None, "fa-blog"),
    }
    spike = next(a for a in alerts if a.kind is AlertKind.spike)
    assert spike.observed >= 10 and spike.details["ratio"] >= 3


@pytest.fixture(scope="module")
def encoder():  # noqa: ANN201 - classifiers.encoders.Encoder
    """The real multilingual encoder, once for this module."""
    from pmon.classifiers.encoders import load_encoder

    return load_encoder()


@pytest.mark.slow
def test_planted_cluster_is_an_emerging_alert(truth_copy: Path, encoder: object) -> None:
    with Warehouse.open(truth_copy) as wh:
        alerts = evaluate_alerts(wh.con, AlertSettings(), now=NOW, encoder=encoder)  # type: ignore[arg-type]
        again = evaluate_alerts(wh.con, AlertSettings(), now=NOW + timedelta(days=1), encoder=encoder)  # type: ignore[arg-type]
        planted = {
            row[0] for row in wh.con.execute(
                "SELECT id FROM documents WHERE source_id = 'tg-channel-sahar' AND text LIKE '%@nawe_chanal_demo%'"
            ).fetchall()
        }
        cached = wh.count("embeddings")
    emerging = [a for a in alerts if a.kind is AlertKind.emerging]
    assert len(emerging) == 1, [a.summary for a in emerging]
    group = emerging[0]
    assert group.lang == "ps" and group.source_id == "tg-channel-sahar" and group.narrative is None
    members = set(group.details["members"])
    assert len(members) >= 6 and len(members & planted) / len(members) >= 0.85
    assert {"چینل", "بند"} <= set(group.details["top_terms"])  # "channel", "closed": what an analyst would name
    assert len(group.evidence) == 5 and group.score is not None and group.score >= 0.9
    assert not [a for a in again if a.kind is AlertKind.emerging]  # the same group is not alerted twice
    assert cached >= len(members)  # its embeddings are cached for the next evaluation


def _demo(request: pytest.FixtureRequest) -> Path:
    return Path(request.getfixturevalue("demo_warehouse"))


@pytest.mark.slow
def test_demo_run_raises_the_planted_spike_and_spread(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    import shutil

    db = tmp_path / "demo.duckdb"
    shutil.copy(_demo(request), db)
    with Warehouse.open(db) as wh:
        evaluate_alerts(wh.con, QUIET)
        rows = wh.con.execute("SELECT kind, narrative, lang, source_id, evidence FROM alerts").fetchall()
        spreads = [json.loads(details) for (details,) in
                   wh.con.execute("SELECT details FROM alerts WHERE kind = 'release_spread'").fetchall()]
    # The planted release (five languages within 25 hours) is linked by the run into one message.
    assert any(len(spread["lag_hours"]) >= 4 for spread in spreads), spreads
    subjects = {(kind, narrative, lang, source) for kind, narrative, lang, source, _ in rows}
    assert ("spike", "economic_recruitment", "tg", None) in subjects
    assert ("spread", "anti_regional.china", "uz", None) in subjects
    for kind, narrative, lang, _, evidence in rows:
        if (kind, narrative, lang) == ("spike", "economic_recruitment", "tg"):
            assert json.loads(evidence), "a spike is stored with its evidence documents"


@pytest.mark.slow
def test_demo_digest_shows_the_spike(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    import shutil

    from pmon.alerts.publish import publish_digest
    from pmon.warehouse import parse_since

    db = tmp_path / "demo.duckdb"
    shutil.copy(_demo(request), db)
    with Warehouse.open(db) as wh:
        report = publish_digest(wh.con, parse_since("7d"), tmp_path / "digest", alert_settings=QUIET)
    html = report.files["html"].read_text(encoding="utf-8")
    assert 'class="alert spike"' in html and "economic_recruitment · tg" in html
    assert 'id="chart-trends"' in html and 'id="chart-heatmap"' in html
