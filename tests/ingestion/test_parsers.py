"""Each source kind read from real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmon.ingestion import IngestLimits, SafeFetcher, read_source
from pmon.ingestion.errors import ParseError
from pmon.ingestion.feeds import parse_feed
from pmon.ingestion.pages import parse_page
from pmon.ingestion.telegram import flatten_text
from pmon.schemas.sources import SourceConfig


def _source(kind: str, location: Path | str, **extra: object) -> SourceConfig:
    return SourceConfig(id=f"t-{kind}", kind=kind, location=str(location), **extra)


def test_rss_items_text_and_dates(fixtures: Path) -> None:
    results = list(parse_feed((fixtures / "ingestion/rss.xml").read_bytes(), "s"))
    items = [r for r in results if not isinstance(r, ParseError)]
    errors = [r for r in results if isinstance(r, ParseError)]
    assert [i.external_id for i in items] == ["rss-1", "rss-2"]
    assert items[0].text == (
        "Traders said the price of flour rose by ten percent this week.\nOfficials promised imports."
    )
    assert items[0].published_at.isoformat() == "2026-11-02T10:00:00+00:00"
    assert "ҳафта" in items[1].text
    assert len(errors) == 1 and "no text" in str(errors[0])


def test_atom_entries(fixtures: Path) -> None:
    parsed = parse_feed((fixtures / "ingestion/atom.xml").read_bytes(), "s")
    items = [r for r in parsed if not isinstance(r, ParseError)]
    assert len(items) == 2
    assert items[0].url == "http://example.invalid/ps/1"
    assert items[0].text.startswith("سوداګرو")
    assert items[1].text.startswith("Savdogarlar")


def test_not_a_feed_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        list(parse_feed(b"<html><body><p>hello</p></body></html>", "s"))


def test_feed_without_items_is_empty_not_broken() -> None:
    for empty in (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>',
                  b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Quiet</title></feed>',
                  b'<rss version="2.0"><channel></channel></rss>'):
        assert list(parse_feed(empty, "quiet")) == []
    with pytest.raises(ParseError):  # XML that is no feed stays an error
        list(parse_feed(b"<data><x>1</x></data>", "odd"))


def test_article_page_main_text_only(fixtures: Path) -> None:
    item = parse_page((fixtures / "ingestion/article.html").read_bytes(), "s", "http://example.invalid/aid")
    assert item.title and item.title.startswith("Aid convoy reaches northern districts")
    assert "four thousand families" in item.text
    assert "More stories" not in item.text and "Home" not in item.text


def test_telegram_export_flattens_entities_keeps_forwards(fixtures: Path) -> None:
    with SafeFetcher() as fetcher:
        batch = read_source(_source("telegram", fixtures / "ingestion/telegram"), fetcher)
    texts = {i.external_id: i for i in batch.items}
    assert set(texts) == {"2", "3"}  # service message and caption-less photo skipped
    assert texts["2"].text == (
        "Weather update: heavy snow expected in the north. See http://example.invalid/weather #weather"
    )
    assert texts["3"].forwarded_from == "Another channel"
    assert texts["2"].published_at.isoformat() == "2026-10-02T10:00:00+00:00"
    assert len(batch.problems) == 1 and "without an id" in batch.problems[0].reason


def test_flatten_text_odd_shapes() -> None:
    assert flatten_text(None) == ""
    assert flatten_text(["a", {"type": "bold"}, 3, {"text": "b"}]) == "ab"


def test_jsonl_drop_bad_lines_quarantined(fixtures: Path) -> None:
    with SafeFetcher() as fetcher:
        batch = read_source(_source("jsonl", fixtures / "ingestion/drop.jsonl"), fetcher)
    assert [i.external_id for i in batch.items] == ["j1", "j2"]
    assert batch.items[1].published_at.year == 2026
    reasons = [p.reason for p in batch.problems]
    assert any("line 3: invalid JSON" in r for r in reasons)
    assert any("line 4: no 'text'" in r for r in reasons)


def test_csv_drop(fixtures: Path) -> None:
    with SafeFetcher() as fetcher:
        batch = read_source(_source("csv", fixtures / "ingestion/drop.csv"), fetcher)
    assert [i.external_id for i in batch.items] == ["c1", "c2"]
    assert "bread prices, like flour" in batch.items[0].text
    assert len(batch.problems) == 1 and "row 4" in batch.problems[0].reason


def test_missing_file_is_recorded_not_raised(tmp_path: Path) -> None:
    with SafeFetcher() as fetcher:
        batch = read_source(_source("jsonl", tmp_path / "nope.jsonl"), fetcher)
    assert batch.items == [] and not batch.complete
    assert batch.problems[0].stage == "fetch"


def test_oversized_item_goes_to_quarantine(tmp_path: Path) -> None:
    drop = tmp_path / "big.jsonl"
    drop.write_text('{"text": "%s"}\n{"text": "small item that fits"}\n' % ("x" * 5000), encoding="utf-8")
    with SafeFetcher(IngestLimits(max_item_chars=1000)) as fetcher:
        batch = read_source(_source("jsonl", drop), fetcher)
    assert [i.text for i in batch.items] == ["small item that fits"]
    assert "max_item_chars" in batch.problems[0].reason
