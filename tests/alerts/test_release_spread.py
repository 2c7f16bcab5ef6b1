"""The release-spread alert: one message (linked translations) reaching several languages within hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pmon.alerts.digest import build_digest, render_html, render_markdown
from pmon.alerts.rules import AlertKind, AlertSettings, evaluate_alerts
from pmon.schemas.detections import Classification
from pmon.schemas.documents import RawItem
from pmon.schemas.language import LanguageResult
from pmon.warehouse import Warehouse
from pmon.warehouse.links import update_message_links
from tests.warehouse.test_links_store import BOW, _bag_of_words

NOW = datetime(2027, 1, 14, 12, 0)
RELEASE = "The district council announces a winter charity drive for warm clothes and flour at the school"
# The same words stand in for translations here: the bag-of-words embedding links them, the language labels
# make them a message in four languages (the real encoder on real translations is tested in tests/classifiers).
COPIES = [("en", "council-en", 0), ("tg", "council-tg", 5), ("fa", "council-fa", 20), ("ps", "council-ps", 50),
          ("ug", "news-ug", 100)]
QUIET = AlertSettings(emerging_enabled=False)


def _warehouse(path: Path) -> Warehouse:
    wh = Warehouse.open(path)
    start = NOW - timedelta(days=3)
    items = [RawItem(source_id=source, text=f"{RELEASE} ({lang}).", published_at=start + timedelta(hours=lag))
             for lang, source, lag in COPIES]
    items.append(RawItem(source_id="news-ug", text="Farmers asked for the second pump to be repaired before spring.",
                         published_at=start))
    languages = [LanguageResult(lang=lang, script="Latn", confidence=1.0) for lang, _, _ in COPIES]
    languages.append(LanguageResult(lang="ug", script="Latn", confidence=1.0))
    wh.store_batch(items, languages, [Classification() for _ in items], "run1", "test")
    update_message_links(wh, _bag_of_words, "bow", settings=BOW)
    return wh


def test_a_message_in_four_languages_within_72_hours_alerts_once_with_lags(tmp_path: Path) -> None:
    with _warehouse(tmp_path / "w.duckdb") as wh:
        alerts = [a for a in evaluate_alerts(wh.con, QUIET, now=NOW) if a.kind is AlertKind.release_spread]
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert.details["lag_hours"] == {"en": 0.0, "tg": 5.0, "fa": 20.0, "ps": 50.0}  # ug came after 72 h
        assert alert.lang == "en" and alert.source_id == "council-en"
        assert "4 languages within 72 hours" in alert.summary and "ps +50 h" in alert.summary
        assert [e.lang for e in alert.evidence] == ["en", "tg", "fa", "ps"]
        assert evaluate_alerts(wh.con, QUIET, now=NOW + timedelta(hours=1)) == []  # stored once

        digest = build_digest(wh.con, NOW.date() - timedelta(days=6), now=NOW, charts=False)
        markdown = render_markdown(digest)
        assert "One message across languages (linked translations) (1)" in markdown
        assert "ps \\+50 h" in markdown  # Markdown-escaped
        # Non-English evidence shows the English member of its message (not presented as a translation).
        english = {e.document_id for e in alert.evidence if e.lang == "en"}
        assert {c["id"] for c in digest.counterparts.values()} == english
        assert set(digest.counterparts) == {e.document_id for e in alert.evidence if e.lang != "en"}
        assert markdown.count("same message in English (council-en, not a translation)") == 3
        assert "same message in English" in render_html(digest)


def test_fewer_languages_than_the_setting_do_not_alert(tmp_path: Path) -> None:
    with _warehouse(tmp_path / "w.duckdb") as wh:
        strict = AlertSettings(emerging_enabled=False, release_min_langs=5)
        assert [a for a in evaluate_alerts(wh.con, strict, now=NOW) if a.kind is AlertKind.release_spread] == []


def test_trends_count_a_translated_release_once_per_language_as_a_message(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from pmon.cli.main import app
    from pmon.schemas.detections import NarrativeScore
    from pmon.warehouse import TrendQuery, query_trends, refresh_trends
    from pmon.warehouse.links import query_message_trends

    path = tmp_path / "w.duckdb"
    with _warehouse(path) as wh:
        later = [RawItem(source_id=source, text=f"{RELEASE}, second call ({lang}).",
                         published_at=NOW - timedelta(hours=lag)) for lang, source, lag in COPIES[:3]]
        languages = [LanguageResult(lang=lang, script="Latn", confidence=1.0) for lang, _, _ in COPIES[:3]]
        detected = [Classification(narratives=[NarrativeScore(id="governance", score=0.9)])] * 3
        wh.store_batch(later, languages, detected, "run2", "test")
        update_message_links(wh, _bag_of_words, "bow", settings=BOW)
        refresh_trends(wh.con)
        query = TrendQuery(by=("narrative",), period="month", since=NOW.date() - timedelta(days=30))
        assert [r["documents"] for r in query_trends(wh.con, query)] == [3]
        assert [r["messages"] for r in query_message_trends(wh, query)] == [1]
        by_lang = query_message_trends(wh, TrendQuery(by=("lang",), period="month", since=query.since))
        assert {r["lang"]: r["messages"] for r in by_lang} == {"en": 1, "tg": 1, "fa": 1, "ps": 1, "ug": 2}

    result = CliRunner().invoke(app, ["trends", "--db", str(path), "--by", "narrative", "--period", "month",
                                      "--since", "2026-12-20", "--unit", "message", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [r["messages"] for r in json.loads(result.stdout)] == [1]
