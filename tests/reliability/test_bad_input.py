"""Bad input: every hostile or broken item goes to quarantine with its reason, and nothing else is affected.

Hand-made cases for the known attacks (entity expansion, compression bombs, 20 MB items, deep nesting, lying
content types, mixed encodings, invisible and control characters, broken Telegram exports), and property tests
(hypothesis) over every parser: they raise nothing but ParseError, account for every line, and what they let
through can be stored.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import resource
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmon.ingestion import IngestLimits, SafeFetcher, SourceBatch, read_source
from pmon.ingestion.drops import parse_csv, parse_jsonl
from pmon.ingestion.errors import FetchError, ParseError
from pmon.ingestion.feeds import parse_feed
from pmon.ingestion.http import _BoundedDecoder
from pmon.ingestion.pages import parse_page
from pmon.ingestion.telegram import parse_export
from pmon.ingestion.text import clean_text, decode_bytes, html_to_text
from pmon.schemas.detections import Classification
from pmon.schemas.language import LanguageResult
from pmon.schemas.sources import SourceConfig
from pmon.warehouse import Warehouse
from tests.reliability.hostile import HostileServer, hostile_server

RSS = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
ITEM = "<item><guid>{guid}</guid><title>{title}</title><description>{text}</description></item>"
GOOD_TG = "Нархи орд дар бозорҳои шаҳр боло рафт, мегӯянд савдогарон."


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with hostile_server() as running:
        yield running


def _read(kind: str, location: str | Path, limits: IngestLimits | None = None, **extra: object) -> SourceBatch:
    source = SourceConfig(id=f"t-{kind}", kind=kind, location=str(location), allow_private_network=True, **extra)
    with SafeFetcher(limits or IngestLimits()) as fetcher:
        return read_source(source, fetcher)


def _reasons(batch: SourceBatch) -> str:
    return " | ".join(p.reason for p in batch.problems)


def _store(items: list) -> Warehouse:
    """Store items the way the flow does (undetermined language, no narratives): hostile text must be storable."""
    wh = Warehouse.open(":memory:")
    wh.store_batch(items, [LanguageResult(lang="und", script="Zyyy", confidence=0.0)] * len(items),
                   [Classification()] * len(items), "run", "tag")
    return wh


# -- XML attacks -------------------------------------------------------------------------------------------------
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<rss version="2.0"><channel><title>t</title>\
<item><title>x</title><description>&lol9;</description></item></channel></rss>"""


def test_billion_laughs_refused_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "laughs.xml").write_text(BILLION_LAUGHS, encoding="utf-8")
    batch = _read("feed", tmp_path / "laughs.xml")
    assert batch.items == []
    assert "entity declarations" in _reasons(batch) and batch.problems[0].payload.startswith("<?xml")


def test_external_entity_refused_in_utf16_too() -> None:
    xxe = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><rss/>'
    with pytest.raises(ParseError, match="entity declarations"):
        list(parse_feed(xxe.encode("utf-16"), "s"))


def test_feed_mixing_encodings_loses_only_the_damaged_item() -> None:
    good = ITEM.format(guid=1, title="a", text=GOOD_TG).encode()
    bad = ITEM.format(guid=2, title="b", text="Нархи нон").encode("cp1251")  # windows-1251 inside a UTF-8 feed
    results = list(parse_feed(RSS.format(items="").encode().replace(b"</channel>", good + bad + b"</channel>"), "s"))
    items = [r for r in results if not isinstance(r, ParseError)]
    errors = [r for r in results if isinstance(r, ParseError)]
    # Without this, feedparser decodes the whole feed as Latin-2 and garbles every item.
    assert [i.text for i in items] == [GOOD_TG]
    assert len(errors) == 1 and "not valid UTF-8" in str(errors[0]) and errors[0].payload


def test_feed_in_one_legacy_encoding_is_read() -> None:
    feed = RSS.format(items=ITEM.format(guid=1, title="a", text="Нархи орд дар бозор боло рафт"))
    feed = feed.replace(' encoding="utf-8"', "")
    items = list(parse_feed(feed.encode("cp1251"), "s"))
    assert [i.text for i in items] == ["Нархи орд дар бозор боло рафт"]


def test_declared_encodings_trusted_only_when_the_bytes_agree() -> None:
    declared = RSS.format(items=ITEM.format(guid=1, title="a", text="Нархи нон")).replace("utf-8", "windows-1251")
    assert [i.text for i in parse_feed(declared.encode("cp1251"), "s")] == ["Нархи нон"]
    lying = RSS.format(items=ITEM.format(guid=1, title="a", text=GOOD_TG)).replace("utf-8", "iso-8859-1")
    assert [i.text for i in parse_feed(lying.encode("utf-8"), "s")] == [GOOD_TG]  # valid UTF-8 wins


def test_deeply_nested_markup_keeps_its_words() -> None:
    summary = "<div>" * 50_000 + "flour prices rose" + "</div>" * 50_000
    assert html_to_text(summary) == "flour prices rose"  # libxml2 drops it past depth 256: stripped by pattern
    page = ("<html><body>" + "<div>" * 100_000 + "<p>text</p>" + "</div>" * 100_000 + "</body></html>").encode()
    with pytest.raises(ParseError):
        parse_page(page, "s", "http://x.invalid/deep")


# -- compression bombs, sizes, time ------------------------------------------------------------------------------
def test_gzip_bomb_never_expands_in_memory(server: HostileServer) -> None:
    bomb = gzip.compress(b"\0" * 300_000_000, compresslevel=9)  # 300 MB from about 300 KB
    url = server.route("/bomb.xml", bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    batch = _read("feed", url, IngestLimits(max_response_bytes=2_000_000))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert batch.items == [] and "over the 2000000 byte cap (after decompression)" in _reasons(batch)
    assert grown_mb < 100, f"peak memory grew by {grown_mb:.0f} MB"


def test_bounded_decoder_steps_never_exceed_the_budget() -> None:
    chunk = zlib.compress(b"a" * 50_000_000)
    decoder = _BoundedDecoder("deflate", "x")
    pieces = list(decoder.feed(chunk, budget=10_000))
    assert sum(map(len, pieces)) == 10_001 and max(map(len, pieces)) <= 10_001


@pytest.mark.parametrize(("encoding", "reason"), [("gzip, gzip", "stacked content encodings"), ("br", "not asked for")])
def test_stacked_or_unasked_encodings_refused(server: HostileServer, encoding: str, reason: str) -> None:
    url = server.route("/enc.xml", gzip.compress(gzip.compress(b"<rss/>")), headers={"Content-Encoding": encoding})
    assert reason in _reasons(_read("feed", url))


def test_slow_drip_stopped_by_the_time_budget(server: HostileServer) -> None:
    url = server.route("/slow.xml", b"<rss>" + b" " * 400, drip=10, pause=0.1, headers={"Content-Type": "text/xml"})
    batch = _read("feed", url, IngestLimits(max_source_seconds=1.0, timeout_seconds=5))
    assert batch.items == [] and "time budget" in _reasons(batch)


def test_twenty_megabyte_item_quarantined_neighbours_kept(tmp_path: Path) -> None:
    big = json.dumps({"id": "big", "text": "слово word " * 1_300_000}, ensure_ascii=False)  # 20.8 MB
    (tmp_path / "drop.jsonl").write_text("\n".join([
        json.dumps({"id": "a", "text": "first item, fine"}), big, json.dumps({"id": "b", "text": "last item, fine"}),
    ]), encoding="utf-8")
    batch = _read("jsonl", tmp_path / "drop.jsonl", IngestLimits(max_response_bytes=30_000_000))
    assert [i.external_id for i in batch.items] == ["a", "b"]
    assert "over the max_item_chars limit" in _reasons(batch) and len(batch.problems[0].payload) <= 2000


def test_file_over_the_response_cap_refused(tmp_path: Path) -> None:
    (tmp_path / "drop.jsonl").write_bytes(b'{"text": "x"}\n' * 1000)
    batch = _read("jsonl", tmp_path / "drop.jsonl", IngestLimits(max_response_bytes=1000))
    assert batch.items == [] and "byte cap" in _reasons(batch) and not batch.complete


# -- content types -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "wrong content type 'image/png'"),
        ("application/octet-stream", b"PK\x03\x04" + b"\0" * 100, "a zip archive"),
        ("text/xml", b"\x1f\x8b\x08" + b"\0" * 100, "gzip-compressed data"),  # compressed, but not declared so
        (
            "text/html; charset=utf-8",
            b"<!DOCTYPE html><html><body><p>a web page</p></body></html>",
            "an HTML page, not a feed",
        ),
        ("application/rss+xml", b"\0\1\2\3" * 100, "binary content"),
    ],
)
def test_wrong_content_types_quarantined(server: HostileServer, content_type: str, body: bytes, reason: str) -> None:
    url = server.route("/thing", body, headers={"Content-Type": content_type})
    batch = _read("feed", url)
    assert batch.items == [] and reason in _reasons(batch)


def test_page_charset_from_meta_is_honoured(server: HostileServer) -> None:
    text = "Нархи орд дар бозорҳои шимол боло рафт. " * 8
    html = (
        f'<html><head><meta charset="windows-1251"><title>Нарх</title></head>'
        f"<body><article><p>{text}</p></article></body></html>"
    )
    url = server.route("/page.html", html.replace("ҳ", "х").encode("cp1251"), headers={"Content-Type": "text/html"})
    batch = _read("html", url)
    assert batch.items and batch.items[0].text.startswith("Нархи орд дар бозорхои")


# -- drops and exports: one bad line never costs the others ------------------------------------------------------
def test_jsonl_every_bad_line_alone_in_quarantine(tmp_path: Path) -> None:
    lines = [
        b'{"id": "1", "text": "good one"}',
        b'{"id": "2", "text": "' + "Нархи нон".encode("cp1251") + b'"}',  # another encoding
        b'{"id": "3", "text": "x", "title": ["not", "a", "string"], "published_at": {"y": 1}}',  # wrong types: fixed up
        b"[" * 100_000,  # nesting that exhausts the JSON parser
        b'{"id": "5", "text": "\\ud83d half an emoji"}',  # a lone surrogate from a JSON escape
        b'"just a string"',
        b'{"id": "7", "text": "\\u200b\\u2060\\u200b"}',  # nothing but invisible characters
        "{\"id\": \"8\", \"text\": \"good two ب\"}".encode(),
    ]
    (tmp_path / "drop.jsonl").write_bytes(b"\n".join(lines))
    batch = _read("jsonl", tmp_path / "drop.jsonl")
    assert [i.external_id for i in batch.items] == ["1", "3", "5", "8"]
    assert batch.items[1].title is None and batch.items[2].text == "\ufffd half an emoji"
    reasons = _reasons(batch)
    for expected in ("line 2: bytes that are not valid UTF-8", "line 4: JSON nested too deeply",
                     "line 6: expected an object", "no text left"):
        assert expected in reasons
    assert len(batch.problems) == 4
    _store(batch.items)  # what was let through is storable


def test_csv_long_field_and_bad_row_do_not_end_the_file(tmp_path: Path) -> None:
    (tmp_path / "drop.csv").write_bytes(
        b'id,text\n1,"first"\n2,"' + b"x" * 300_000 + b'"\n3,\n4,"fourth"\n'
    )
    batch = _read("csv", tmp_path / "drop.csv", IngestLimits(max_item_chars=1000))
    assert [i.external_id for i in batch.items] == ["1", "4"]
    assert "max_item_chars" in _reasons(batch) and "row 4: no 'text'" in _reasons(batch)


@pytest.mark.parametrize(
    ("export", "reason"),
    [
        ({"messages": "not a list"}, "no 'messages' list"),
        ([1, 2, 3], "no 'messages' list"),
        ({"name": "c", "messages": [None]}, "is not an object"),
        ({"messages": [{"type": "message", "text": "no id here"}]}, "without an id"),
        ({"messages": [{"id": {"nested": 1}, "type": "message", "text": "odd id"}]}, "unusable id"),
    ],
)
def test_telegram_exports_with_missing_fields(tmp_path: Path, export: object, reason: str) -> None:
    (tmp_path / "result.json").write_text(json.dumps(export), encoding="utf-8")
    batch = _read("telegram", tmp_path)
    assert batch.items == [] and reason in _reasons(batch)


def test_telegram_odd_fields_read_as_far_as_they_go(tmp_path: Path) -> None:
    export = {"messages": [
        {"id": 1, "type": "message", "date": "yesterday", "date_unixtime": "99999999999999", "from": ["a", "list"],
         "text": [{"type": "bold", "text": [{"type": "italic", "text": "nested "}]}, "entities", 42]},
        {"id": 2, "type": "message"},  # no text: a photo without a caption, skipped
        {"id": 3, "type": "service", "text": "joined"},
        {"id": 4, "text": "\x1b[31mred\x1b[0m terminal escape", "date": "2026-01-01T00:00:00"},
    ]}
    (tmp_path / "result.json").write_text(json.dumps(export), encoding="utf-8")
    batch = _read("telegram", tmp_path)
    assert [(i.external_id, i.text) for i in batch.items] == [
        ("1", "nested entities"), ("4", "[31mred[0m terminal escape")
    ]
    assert batch.items[0].published_at is None and batch.items[0].author == "t-telegram"  # the channel's name
    assert batch.problems == []


# -- characters --------------------------------------------------------------------------------------------------
def test_invisible_and_control_characters(tmp_path: Path) -> None:
    persian = "می\u200cخواهم"  # ZWNJ is spelling in Persian: kept
    text = f"\u202eevil override\u202c {persian} zero\u200bwidth split, bell\x07, nul\x00, line\u2028sep"
    record = {"id": "1", "text": text, "title": "ti\u2066tle\u2069\n2"}
    (tmp_path / "drop.jsonl").write_text(json.dumps(record), encoding="utf-8")
    batch = _read("jsonl", tmp_path / "drop.jsonl")
    item = batch.items[0]
    assert item.text == f"evil override {persian} zerowidth split, bell, nul, line\nsep"
    assert item.title == "title 2"
    wh = _store(batch.items)
    assert wh.con.execute("SELECT text FROM documents").fetchall() == [(item.text,)]


def test_non_http_links_dropped(tmp_path: Path) -> None:
    (tmp_path / "drop.jsonl").write_text(json.dumps({"text": "t", "url": "javascript:alert(1)"}), encoding="utf-8")
    assert _read("jsonl", tmp_path / "drop.jsonl").items[0].url is None


def test_empty_inputs(tmp_path: Path) -> None:
    for name, body in (("empty.jsonl", b""), ("blank.jsonl", b"\n\n  \n")):
        (tmp_path / name).write_bytes(body)
        batch = _read("jsonl", tmp_path / name)
        assert batch.items == [] and batch.problems == [] and batch.complete
    (tmp_path / "empty.xml").write_bytes(b"")
    assert "empty document" in _reasons(_read("feed", tmp_path / "empty.xml"))
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "must name a 'text' column" in _reasons(_read("csv", tmp_path / "empty.csv"))


# -- properties --------------------------------------------------------------------------------------------------
#: Any code point, surrogates and control/format characters included.
hostile_text = st.text(st.characters(codec=None, categories=None, exclude_categories=()), max_size=200)
_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(hostile_text)
def test_clean_text_is_storable_printable_and_idempotent(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # no lone surrogates
    assert not any(ord(c) < 32 and c not in "\n" for c in cleaned)
    assert "\u202e" not in cleaned and "\u200b" not in cleaned
    assert clean_text(cleaned) == cleaned


@_FAST
@given(st.binary(max_size=600))
def test_decode_bytes_never_fails(content: bytes) -> None:
    decoded = decode_bytes(content)
    decoded.text.encode("utf-8", "surrogatepass")


@_FAST
@given(
    st.lists(
        st.one_of(hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=80)), max_size=12
    )
)
def test_jsonl_accounts_for_every_line(lines: list[bytes]) -> None:
    content = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    results = list(parse_jsonl(content, "s"))
    non_blank = [line for line in decode_bytes(content).text.split("\n") if line.strip()]
    assert len(results) == len(non_blank)  # each line is an item or a quarantined error, never dropped


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "type", "text", "date", "date_unixtime", "from", "forwarded_from", "messages", "name"]),
        children,
        max_size=5,
    ),
    max_leaves=25,
)


@_FAST
@given(st.lists(json_values, max_size=6), st.sampled_from([None, "message", "service"]))
def test_telegram_messages_of_any_shape(messages: list[object], kind: str | None) -> None:
    export = {"name": "c", "messages": [dict(m, type=kind) if isinstance(m, dict) and kind else m for m in messages]}
    raw = json.dumps(export, ensure_ascii=True).encode()
    results = list(parse_export(raw, "s"))
    assert len(results) <= len(messages)
    items = [r for r in results if not isinstance(r, ParseError)]
    if items:
        _store(items)


@_FAST
@given(
    st.binary(max_size=400)
    | hostile_text.map(lambda t: ("<rss><channel><item><title>" + t).encode("utf-8", "surrogatepass"))
)
def test_feed_parser_raises_only_parse_errors(content: bytes) -> None:
    try:
        results = list(parse_feed(content, "s"))
    except ParseError:
        return
    items = [r for r in results if not isinstance(r, ParseError)]
    if items:
        _store(items)


@_FAST
@given(st.binary(max_size=400))
def test_csv_parser_raises_only_parse_errors(content: bytes) -> None:
    try:
        results = list(parse_csv(b"id,text\n" + content, "s"))
    except ParseError:
        return
    items = [r for r in results if not isinstance(r, ParseError)]
    if items:
        _store(items)


@settings(max_examples=40, deadline=None)
@given(hostile_text)
def test_page_parser_raises_only_parse_errors(text: str) -> None:
    html = f"<html><body><article><p>{text}</p><p>{text[::-1]}</p></article></body></html>"
    with contextlib.suppress(ParseError):
        parse_page(html.encode("utf-8", "surrogatepass"), "s", "http://x.invalid/p")


def test_fetch_errors_are_fetch_errors_not_crashes(server: HostileServer) -> None:
    url = server.route("/broken-gzip", b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"})
    with SafeFetcher() as fetcher, pytest.raises(FetchError, match="broken compressed body"):
        fetcher.get(url, allow_private=True)
