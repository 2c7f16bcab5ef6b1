"""Which charset a document is read in (#14): feedparser's order of evidence (byte-order mark, the HTTP
charset, the XML declaration, then detection), UTF-16/32 without a byte-order mark, legacy multi-byte
encodings, and a reason that names the real cause when nothing fits. Feeds come over HTTP from a real server on
127.0.0.1 and drops from real files, through `read_source` as in a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pmon.ingestion import IngestLimits, SafeFetcher, SourceBatch, read_source
from pmon.schemas.sources import SourceConfig
from tests.reliability.hostile import HostileServer, hostile_server

PRICES = "£5 … naïve café: bread costs “more” this week"
JAPANESE = "今日は市場でパンの値段が上がりました"  # "bread prices at the market rose today"
HEBREW = "מחירי הלחם בשוק עלו השבוע"  # "bread prices at the market rose this week"


def rss(text: str, declaration: str = "") -> str:
    return (f"{declaration}<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid><title>prices</title>"
            f"<description>{text}</description></item></channel></rss>")


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with hostile_server() as running:
        yield running


def _read(kind: str, location: str | Path) -> SourceBatch:
    source = SourceConfig(id=f"t-{kind}", kind=kind, location=str(location), allow_private_network=True)
    with SafeFetcher(IngestLimits()) as fetcher:
        return read_source(source, fetcher)


def _texts(batch: SourceBatch) -> list[str]:
    return [item.text for item in batch.items]


def _reasons(batch: SourceBatch) -> str:
    return " | ".join(problem.reason for problem in batch.problems)


def test_http_charset_reaches_the_feed_parser(server: HostileServer) -> None:
    # No XML declaration: only the header says windows-1252 (read as windows-1251 before, "Ј5 … naпve cafй").
    url = server.route("/prices.xml", rss(PRICES).encode("cp1252"),
                       headers={"Content-Type": "application/rss+xml; charset=windows-1252"})
    batch = _read("feed", url)
    assert _texts(batch) == [PRICES], _reasons(batch)


def test_http_charset_outranks_the_xml_declaration(server: HostileServer) -> None:
    body = rss(HEBREW, '<?xml version="1.0" encoding="iso-8859-5"?>').encode("cp1255")
    url = server.route("/he.xml", body, headers={"Content-Type": "application/xml; charset=windows-1255"})
    assert _texts(_read("feed", url)) == [HEBREW]


@pytest.mark.parametrize("encoding", ["euc_jp", "shift_jis", "iso2022_jp"])
def test_legacy_japanese_read_by_the_xml_declaration(server: HostileServer, encoding: str) -> None:
    label = {"euc_jp": "EUC-JP", "shift_jis": "Shift_JIS", "iso2022_jp": "ISO-2022-JP"}[encoding]
    body = rss(JAPANESE, f'<?xml version="1.0" encoding="{label}"?>').encode(encoding)
    url = server.route(f"/{encoding}.xml", body, headers={"Content-Type": "application/rss+xml"})
    assert _texts(_read("feed", url)) == [JAPANESE]


def test_legacy_feed_by_the_http_charset(server: HostileServer) -> None:
    url = server.route(
        "/sjis.xml", rss(JAPANESE).encode("shift_jis"), headers={"Content-Type": "text/xml; charset=Shift_JIS"}
    )
    assert _texts(_read("feed", url)) == [JAPANESE]


def test_declared_charset_that_does_not_decode_is_the_reason(server: HostileServer) -> None:
    # EUC-JP bytes served as windows-1255: 0xa4 0xcf ... holds bytes windows-1255 does not define.
    body = rss(JAPANESE).encode("euc_jp")
    with pytest.raises(UnicodeDecodeError):
        body.decode("cp1255")
    url = server.route("/lying.xml", body, headers={"Content-Type": "application/rss+xml; charset=windows-1255"})
    batch = _read("feed", url)
    assert batch.items == []
    reasons = _reasons(batch)
    assert "declared charset windows-1255 does not decode (byte 0x" in reasons, reasons
    assert "mixing encodings" not in reasons and "mixed encodings" not in reasons


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_unicode_without_a_byte_order_mark(tmp_path: Path, server: HostileServer, encoding: str) -> None:
    body = rss(PRICES + " " + HEBREW, f'<?xml version="1.0" encoding="{encoding[:6]}"?>').encode(encoding)
    (tmp_path / "wide.xml").write_bytes(body)
    assert _texts(_read("feed", tmp_path / "wide.xml")) == [PRICES + " " + HEBREW]
    url = server.route("/wide.xml", body, headers={"Content-Type": "application/rss+xml"})
    assert _texts(_read("feed", url)) == [PRICES + " " + HEBREW]


def test_wide_unicode_jsonl_without_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "drop.jsonl").write_bytes((f'{{"id": "1", "text": "{HEBREW}"}}\n').encode("utf-16-le"))
    assert _texts(_read("jsonl", tmp_path / "drop.jsonl")) == [HEBREW]


def test_binary_with_nul_bytes_still_refused(tmp_path: Path) -> None:
    (tmp_path / "blob.xml").write_bytes(bytes(range(256)) * 20)
    batch = _read("feed", tmp_path / "blob.xml")
    assert batch.items == [] and "binary content" in _reasons(batch)


def test_ascii_drop_with_one_corrupted_line_quarantines_that_line(tmp_path: Path) -> None:
    # Pure ASCII but for one line of broken bytes: before, the whole file was "detected" as a legacy encoding
    # (the ASCII lines read as English in any of them) and the broken line stored as mojibake.
    lines = [b'{"id": "1", "text": "Flour prices rose again in the northern districts."}',
             b'{"id": "2", "text": "Bread \xc3\x28 costs \xa0\xa1 more \xf0\x28\x8c\xbc now \xff\xfe."}',
             b'{"id": "3", "text": "Officials promised more imports before winter."}']
    (tmp_path / "drop.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    batch = _read("jsonl", tmp_path / "drop.jsonl")
    assert [item.external_id for item in batch.items] == ["1", "3"]
    [problem] = batch.problems
    assert problem.reason.startswith("line 2: bytes that are not valid UTF-8"), problem.reason
    assert "byte 0xc3 at column 28" in problem.reason and "no charset declared" in problem.reason


@pytest.mark.parametrize("junk", [b"\xf0\xff", b"\xf0\xe2\xf0\xf0\xf0", b"\xf0\x9d"])
def test_a_few_stray_bytes_are_no_legacy_text(tmp_path: Path, junk: bytes) -> None:
    # In windows-1256 these are Arabic marks that CLD2 alone calls a "reliable" language.
    lines = [b'{"text": "Traders said flour prices rose again."}', b'{"text": "Bread ' + junk + b' costs more"}']
    (tmp_path / "drop.jsonl").write_bytes(b"\n".join(lines))
    batch = _read("jsonl", tmp_path / "drop.jsonl")
    assert _texts(batch) == ["Traders said flour prices rose again."]
    assert _reasons(batch).startswith("line 2: bytes that are not valid UTF-8")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Нархи орд дар бозори шахр боз боло рафт ва мардум нигаронанд", "cp1251"),
     ("Der Brotpreis in München ist gestiegen, sagen die Händler über die Märkte", "cp1252")],
)
def test_legacy_drop_still_read_whole(tmp_path: Path, text: str, encoding: str) -> None:
    (tmp_path / "drop.jsonl").write_bytes(b'{"id": "1", "title": "Prices", "text": "' + text.encode(encoding) + b'"}\n')
    assert _texts(_read("jsonl", tmp_path / "drop.jsonl")) == [text]
