"""The `<!ENTITY` refusal is judged on the decoded text the parser is given, not on a prefix of raw bytes (#14):
a declaration after the first megabyte, in UTF-7 or in UTF-16 without a byte-order mark is refused as surely
as a plain one, read from real files through `read_source`.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from pmon.ingestion import IngestLimits, SafeFetcher, SourceBatch, read_source
from pmon.ingestion.feeds import parse_feed
from pmon.schemas.sources import SourceConfig

LAUGHS = ('<!DOCTYPE rss [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY x SYSTEM "file:///etc/hostname">]>')
BODY = (
    '<rss version="2.0"><channel><title>t</title>'
    "<item><title>x</title><description>&c; &x;</description></item></channel></rss>"
)


def _read(path: Path) -> SourceBatch:
    source = SourceConfig(id="t-feed", kind="feed", location=str(path))
    with SafeFetcher(IngestLimits()) as fetcher:
        return read_source(source, fetcher)



def _assert_refused(batch: SourceBatch) -> None:
    assert batch.items == []
    reasons = " | ".join(problem.reason for problem in batch.problems)
    assert "XML entity declarations (<!ENTITY" in reasons, reasons


def test_declaration_after_the_first_megabyte(tmp_path: Path) -> None:
    padding = "<!-- " + "padding " * 150_000 + "-->"  # 1.2 MB of comment before the DTD
    (tmp_path / "late.xml").write_text(f'<?xml version="1.0"?>{padding}{LAUGHS}{BODY}', encoding="utf-8")
    _assert_refused(_read(tmp_path / "late.xml"))


def test_declaration_in_utf7(tmp_path: Path) -> None:
    # Pure ASCII bytes: "<!ENTITY" appears only once the declared UTF-7 is decoded (as feedparser decodes it).
    # Python's encoder writes "<" and "!" directly (UTF-7 allows either): spelled out here as an attacker would.
    hidden = LAUGHS.replace("<!", "+ADwAIQ-").replace(">", "+AD4-").encode("ascii")
    assert b"<!ENTITY" not in hidden and codecs.decode(hidden, "utf-7") == LAUGHS
    (tmp_path / "utf7.xml").write_bytes(b'<?xml version="1.0" encoding="utf-7"?>' + hidden + BODY.encode("utf-7"))
    _assert_refused(_read(tmp_path / "utf7.xml"))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-32-le"])
def test_declaration_in_utf16_and_utf32(tmp_path: Path, encoding: str) -> None:
    label = encoding[:6]
    (tmp_path / "wide.xml").write_bytes(f'<?xml version="1.0" encoding="{label}"?>{LAUGHS}{BODY}'.encode(encoding))
    _assert_refused(_read(tmp_path / "wide.xml"))


def test_what_the_parser_reads_is_what_was_checked() -> None:
    # A UTF-8 document that declares UTF-7 must not be re-decoded by feedparser into markup the check never saw:
    # the text handed on is UTF-8 and says so. "+ADw-" stays five characters of text.
    feed = b'<?xml version="1.0" encoding="utf-7"?><rss version="2.0"><channel><title>t</title><item><guid>1</guid>' \
           b"<description>Caf\xc3\xa9 prices +ADw-b+AD4-rose+ADw-/b+AD4-</description></item></channel></rss>"
    [item] = list(parse_feed(feed, "s"))
    assert item.text == "Café prices +ADw-b+AD4-rose+ADw-/b+AD4-"


def test_escaped_entity_text_is_not_a_declaration(tmp_path: Path) -> None:
    feed = BODY.replace("&c; &x;", "How &lt;!ENTITY declarations work, explained")
    (tmp_path / "ok.xml").write_text(feed, encoding="utf-8")
    batch = _read(tmp_path / "ok.xml")
    assert [item.text for item in batch.items] == ["How <!ENTITY declarations work, explained"]
