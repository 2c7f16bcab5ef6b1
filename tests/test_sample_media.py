"""The synthetic demo media: deterministic, parseable by the real parsers, and carrying the planted signals."""

from __future__ import annotations

import csv
import filecmp
import io
import json
import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
import trafilatura

from pmon.sample_media import GOLD_DIR, VARIETIES, SampleMediaError, render
from pmon.sample_media.build import derive_title
from pmon.schemas.sources import load_sources

ANCHOR = date(2026, 11, 20)
BASE_URL = "http://127.0.0.1:8765"
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("media")
    render(out, BASE_URL, ANCHOR)
    return out


@pytest.fixture(scope="module")
def truth(media: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (media / "truth.jsonl").read_text(encoding="utf-8").splitlines()]


def _age_days(row: dict[str, Any]) -> float:
    published = datetime.fromisoformat(row["published_at"].replace("Z", "+00:00"))
    return (MIDNIGHT - published) / timedelta(days=1)


def _without_joiners(text: str) -> str:
    return text.replace("\u200c", "").replace("\u200d", "")


def _flatten(text: str | list[Any]) -> str:
    return text if isinstance(text, str) else "".join(p if isinstance(p, str) else p["text"] for p in text)


# -- determinism -------------------------------------------------------------------------------------------------
def test_rendering_twice_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    render(first, BASE_URL, ANCHOR, seed=7)
    render(second, BASE_URL + "/", ANCHOR, seed=7)  # a trailing slash must not change anything
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(first, second, [str(f) for f in files], shallow=False)
    assert mismatch == [] and errors == []


def test_another_seed_or_anchor_changes_the_media(tmp_path: Path, media: Path) -> None:
    render(tmp_path / "seed", BASE_URL, ANCHOR, seed=8)
    render(tmp_path / "anchor", BASE_URL, ANCHOR + timedelta(days=1), seed=7)
    original = (media / "truth.jsonl").read_bytes()
    assert (tmp_path / "seed" / "truth.jsonl").read_bytes() != original
    assert (tmp_path / "anchor" / "truth.jsonl").read_bytes() != original


# -- formats -----------------------------------------------------------------------------------------------------
def test_every_feed_parses_without_bozo(media: Path) -> None:
    versions = Counter()
    for path in sorted((media / "feeds").glob("*.xml")):
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, f"{path.name}: {parsed.get('bozo_exception')}"
        assert parsed.entries, path.name
        versions[parsed.version] += 1
        for entry in parsed.entries:
            assert entry.id and entry.title, path.name
            assert entry.link.startswith(BASE_URL + "/"), entry.link
            assert entry.get("summary") or entry.get("content"), entry.id
            assert entry.get("published_parsed") or entry.get("updated_parsed"), entry.id
    assert versions["rss20"] >= 2 and versions["atom10"] >= 2, versions
    assert sum(versions.values()) >= 5  # at least 4 content feeds plus the articles feed


def test_feed_items_in_one_or_two_languages(media: Path, truth: list[dict[str, Any]]) -> None:
    sources = load_sources(media / "sources.yaml")
    feeds = [s.id for s in sources.sources if s.kind == "feed" and s.id != "articles"]
    for source_id in feeds:
        langs = {row["lang"] for row in truth if row["source_id"] == source_id}
        assert 1 <= len(langs) <= 2, (source_id, langs)
    scripts_of_uz = {row["script"] for row in truth if row["source_id"] == "uz-news"}
    assert scripts_of_uz == {"Latn", "Cyrl"}


def test_article_pages_yield_their_body_with_trafilatura(media: Path) -> None:
    pages = sorted((media / "articles").glob("*.html")) + sorted((media / "pages").glob("*.html"))
    assert len(list((media / "articles").glob("*.html"))) >= 10
    for page in pages:
        markup = page.read_text(encoding="utf-8")
        tree = lxml.html.fromstring(markup)
        paragraphs = [p.text_content() for p in tree.xpath("//div[@class='story-body']/p")]
        assert 3 <= len(paragraphs) <= 6, page.name
        assert tree.xpath("//nav") and tree.xpath("//footer") and tree.xpath("//aside//a"), page.name
        extracted = trafilatura.extract(markup, favor_precision=True)
        assert extracted, page.name
        for paragraph in paragraphs:
            # trafilatura drops zero-width (non)joiners, which Persian spelling uses (استان‌های → استانهای).
            assert _without_joiners(paragraph) in _without_joiners(extracted), (page.name, paragraph)
        assert "Synthetic demo media rendered by pmon" not in extracted  # the footer is boilerplate


def test_articles_feed_lists_every_page_with_a_short_summary(media: Path) -> None:
    parsed = feedparser.parse((media / "feeds" / "articles.xml").read_bytes())
    pages = {f"{BASE_URL}/articles/{p.name}" for p in (media / "articles").glob("*.html")}
    assert {entry.link for entry in parsed.entries} == pages
    for entry in parsed.entries:
        page = lxml.html.fromstring((media / "articles" / entry.link.rsplit("/", 1)[1]).read_bytes())
        body = " ".join(p.text_content() for p in page.xpath("//div[@class='story-body']/p"))
        assert len(entry.summary) < len(body) / 2


def test_telegram_export_looks_like_telegram_desktop(media: Path) -> None:
    exports = list((media / "telegram").glob("*/result.json"))
    assert len(exports) == 1
    data = json.loads(exports[0].read_text(encoding="utf-8"))
    assert {"name", "type", "id", "messages"} <= set(data)
    messages = data["messages"]
    ids = [m["id"] for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stamps = [int(m["date_unixtime"]) for m in messages]
    assert stamps == sorted(stamps)
    for message in messages:
        assert {"id", "type", "date", "date_unixtime", "text", "text_entities"} <= set(message)
        assert message["type"] in ("message", "service")
        if message["type"] == "message":
            assert message["from"] and message["from_id"]
        assert _flatten(message["text"]) == "".join(e["text"] for e in message["text_entities"])
    services = [m for m in messages if m["type"] == "service"]
    assert len(services) >= 3
    assert all(m["message_id"] in ids for m in services if m.get("action") == "pin_message")
    assert sum(1 for m in messages if "photo" in m and m["text"] == "") >= 3
    assert sum(1 for m in messages if "file" in m and m["text"] == "") >= 1
    assert sum(1 for m in messages if m.get("forwarded_from")) >= 3
    entity_types = {part["type"] for m in messages if isinstance(m["text"], list) for part in m["text"]
                    if isinstance(part, dict)}
    assert {"bold", "link", "hashtag", "mention", "text_link"} <= entity_types
    assert any("<script>alert(1)</script>" in _flatten(m["text"]) for m in messages)


def test_drops_have_the_documented_fields(media: Path) -> None:
    fields = ["id", "url", "title", "text", "published_at", "author"]
    jsonl = list((media / "drops").glob("*.jsonl"))
    csvs = list((media / "drops").glob("*.csv"))
    assert jsonl and csvs
    for path in jsonl:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert rows and all(list(row) == fields for row in rows)
    for path in csvs:
        reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
        rows = list(reader)
        assert reader.fieldnames == fields and rows
        assert any("\n" in row["text"] for row in rows)  # a quoted line break survives the round trip
        assert all(row["text"] and row["published_at"].endswith("Z") for row in rows)


def test_sources_yaml_validates_and_covers_everything(media: Path, truth: list[dict[str, Any]]) -> None:
    sources = load_sources(media / "sources.yaml")
    by_id = {s.id: s for s in sources.sources}
    kinds = Counter(s.kind.value for s in sources.sources)
    assert kinds["feed"] >= 5 and kinds["html"] >= 2 and kinds["telegram"] == 1
    assert kinds["jsonl"] >= 1 and kinds["csv"] >= 1
    assert by_id["articles"].fetch_full_text
    for source in sources.sources:
        assert source.expected_langs and source.tags and source.schedule and source.group
        if source.is_remote:
            assert source.allow_private_network and source.location.startswith(BASE_URL + "/")
            local = media / source.location[len(BASE_URL) + 1 :]
            assert local.is_file(), source.location
            for page in source.pages:
                assert (media / page[len(BASE_URL) + 1 :]).is_file(), page
        else:
            assert Path(source.location).is_file() and Path(source.location).is_relative_to(media.resolve())
    assert {row["source_id"] for row in truth} == set(by_id)
    for row in truth:
        assert row["lang"] in by_id[row["source_id"]].expected_langs


def test_texts_are_unique_within_each_source(media: Path) -> None:
    texts: dict[str, list[str]] = {}
    for path in (media / "feeds").glob("*.xml"):
        parsed = feedparser.parse(path.read_bytes())
        texts[path.stem] = [(e.get("content") or [{}])[0].get("value") or e.summary for e in parsed.entries]
    for path in (media / "telegram").glob("*/result.json"):
        messages = json.loads(path.read_text(encoding="utf-8"))["messages"]
        texts[path.parent.name] = [_flatten(m["text"]) for m in messages if _flatten(m["text"])]
    for path in (media / "drops").glob("*.jsonl"):
        texts[path.name] = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    for path in (media / "drops").glob("*.csv"):
        texts[path.name] = [row["text"] for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))]
    for name, values in texts.items():
        normalised = [" ".join(value.split()).casefold() for value in values]
        duplicates = [text for text, count in Counter(normalised).items() if count > 1]
        assert not duplicates, (name, duplicates[:2])


# -- content -----------------------------------------------------------------------------------------------------
def test_counts_languages_and_mix_meet_the_minimums(truth: list[dict[str, Any]]) -> None:
    assert len(truth) >= 700
    varieties = Counter(f"{row['lang']}-{row['script']}" for row in truth)
    missing = [variety for variety in VARIETIES if varieties[variety] < 30]
    present = sorted(path.name for path in GOLD_DIR.glob("*.jsonl"))
    assert not missing, f"too few items in {missing}; gold files present: {present}"
    non_narrative = sum(1 for row in truth if row["kind"] in ("everyday", "unrelated"))
    assert 0.33 <= non_narrative / len(truth) <= 0.47
    assert all(0 < _age_days(row) <= 90 for row in truth)
    assert len({(row["source_id"], row["item_id"]) for row in truth}) == len(truth)
    for row in truth:
        assert (row["kind"] == "narrative") == bool(row["labels"])
        assert (row["stance"] == "none") == (not row["labels"])


def test_planted_trend_tajik_economic_recruitment(truth: list[dict[str, Any]]) -> None:
    ages = [_age_days(r) for r in truth if r["lang"] == "tg" and "economic_recruitment" in r["labels"]]
    recent = [age for age in ages if age <= 14]
    assert len(recent) >= 24  # 12+ a week in the last two weeks
    earlier = [age for age in ages if age > 14]
    assert 1 <= len(earlier) / ((90 - 14) / 7) <= 2  # about 1-2 a week before
    for start in range(14, 84, 7):
        assert len([age for age in earlier if start < age <= start + 7]) <= 3


def test_planted_spread_china_reaches_uzbek_only_in_the_last_week(truth: list[dict[str, Any]]) -> None:
    uzbek = [r for r in truth if r["lang"] == "uz" and "anti_regional.china" in r["labels"]]
    assert 3 <= len(uzbek) <= 5
    assert all(_age_days(r) <= 7 for r in uzbek)
    elsewhere = [r for r in truth if r["lang"] != "uz" and "anti_regional.china" in r["labels"]]
    assert any(_age_days(r) > 7 for r in elsewhere)


def test_planted_silence_one_feed_stops_three_weeks_before(truth: list[dict[str, Any]]) -> None:
    ages = sorted(_age_days(r) for r in truth if r["source_id"] == "fa-blog")
    assert ages and min(ages) > 21
    for start in range(21, 84, 7):  # steady before: every week of its active period has posts
        assert any(start < age <= start + 7 for age in ages), start


def test_planted_cluster_of_pashto_notices_in_telegram(media: Path, truth: list[dict[str, Any]]) -> None:
    cluster = [r for r in truth if r["planted"] == "cluster"]
    assert 6 <= len(cluster) <= 8
    assert all(r["lang"] == "ps" and r["labels"] == [] and _age_days(r) <= 5 for r in cluster)
    assert {r["source_id"] for r in cluster} == {"tg-channel-sahar"}
    messages = json.loads(next((media / "telegram").glob("*/result.json")).read_text(encoding="utf-8"))["messages"]
    by_id = {str(m["id"]): _flatten(m["text"]) for m in messages}
    texts = [by_id[r["item_id"]] for r in cluster]
    assert all("چینل" in text for text in texts) and len(set(texts)) == len(texts)


def test_planted_release_in_five_languages_within_a_day(truth: list[dict[str, Any]]) -> None:
    release = [r for r in truth if r["planted"] == "release"]
    assert sorted(r["lang"] for r in release) == ["en", "fa", "ps", "tg", "uz"]
    assert all(r["labels"] == [] and r["kind"] == "release" for r in release)
    times = sorted(datetime.fromisoformat(r["published_at"].replace("Z", "+00:00")) for r in release)
    assert (times[-1] - times[0]).total_seconds() <= 25 * 3600
    assert all(1 <= _age_days(r) <= 3 for r in release)  # the first post 3 days before the anchor, 08:00
    assert len({r["source_id"] for r in release}) == 4


def test_special_items_links_entities_and_emoji(media: Path) -> None:
    en_news = feedparser.parse((media / "feeds" / "en-news.xml").read_bytes())
    summaries = [entry.summary for entry in en_news.entries]
    assert any("#Kabul" in s and "📈" in s and "&amp;" in s for s in summaries)
    assert sum("http://" in s for s in summaries) >= 2
    drops = (media / "drops" / "collected-posts.csv").read_text(encoding="utf-8")
    assert f"{BASE_URL}/articles/" in drops


# -- helpers and errors -----------------------------------------------------------------------------------------
def test_missing_varieties_are_reported_not_fatal(tmp_path: Path) -> None:
    gold = tmp_path / "gold"
    gold.mkdir()
    shutil.copy(GOLD_DIR / "en-latn.jsonl", gold / "en-latn.jsonl")
    manifest = render(tmp_path / "out", BASE_URL, ANCHOR, gold_dir=gold)
    # Only English from the gold; the planted Pashto cluster and the release are written by the generator itself.
    assert manifest.items_per_language == {"en": manifest.total_items - 11, "ps": 8, "tg": 1, "fa": 1, "uz": 1}
    assert set(manifest.missing_varieties) == set(VARIETIES) - {"en-Latn"}
    assert load_sources(tmp_path / "out" / "sources.yaml").sources


def test_a_broken_gold_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "xx-latn.jsonl").write_text('{"id": "x", "text": "t"}\n', encoding="utf-8")
    with pytest.raises(SampleMediaError, match=r"xx-latn\.jsonl:1"):
        render(tmp_path / "out", BASE_URL, ANCHOR, gold_dir=tmp_path)


@pytest.mark.parametrize(
    ("sentence", "title"),
    [
        ("Bread prices in Kabul held steady, traders said.", "Bread prices in Kabul held steady"),
        ("زموږ پخوانی چینل بند شو. نوی چینل تعقیب کړئ", "زموږ پخوانی چینل بند شو"),
        ("One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen", "One two three four five six seven eight"),
    ],
)
def test_titles_are_prefixes_of_the_first_sentence(sentence: str, title: str) -> None:
    assert derive_title(sentence) == title
    assert sentence.startswith(derive_title(sentence))
