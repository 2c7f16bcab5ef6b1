"""RSS and Atom feeds, parsed by feedparser after the bytes have been checked and their encoding settled."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

import feedparser

from pmon.ingestion.content import refuse_entity_declarations
from pmon.ingestion.errors import ParseError
from pmon.ingestion.text import REPLACEMENT, clean_line, decode_bytes, declared_xml_encoding, html_to_text, struct_to_datetime
from pmon.schemas.documents import RawItem

_BOM_STARTS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_HTML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)


def _settle_encoding(content: bytes) -> tuple[bytes, bool]:
    """UTF-8 bytes for feedparser, and whether invalid bytes had to be replaced.

    feedparser decodes a whole document with one encoding: one item in windows-1251 inside a UTF-8 feed makes
    it fall back to a Latin encoding and garbles every item. Decoding here keeps the good items intact and
    marks the damaged ones (they hold U+FFFD) so they alone go to quarantine.
    """
    if content.startswith(_BOM_STARTS):
        return content, False  # feedparser reads byte-order marks right
    declared = declared_xml_encoding(content)
    decoded = decode_bytes(content, declared)
    if decoded.encoding == "utf-8" and not decoded.invalid:
        return content, False
    text = decoded.text
    if declared is not None:
        # The declaration must agree with the UTF-8 bytes handed on.
        text = text.replace(f'encoding="{declared}"', 'encoding="utf-8"', 1).replace(f"encoding='{declared}'", "encoding='utf-8'", 1)
    return text.encode("utf-8"), decoded.invalid


def _http_url(value: object) -> str | None:
    url = clean_line(value, max_chars=4000)
    return url if url and url.lower().startswith(("http://", "https://")) else None


def parse_feed(content: bytes, source_id: str, base_url: str | None = None) -> Iterator[RawItem | ParseError]:
    """Items of an RSS/Atom document; an entry that cannot be used is yielded as a ParseError, not raised.

    Raises:
        ParseError: the document is not a feed at all (no entries and a parse error, or not XML), or it
            declares XML entities.
    """
    location = base_url or "feed"
    if not content.strip():
        raise ParseError(f"{location}: empty document, not a feed")
    if _HTML_START.match(content[:1024]):
        raise ParseError(f"{location}: an HTML page, not a feed (has the feed moved?)")
    refuse_entity_declarations(content, location)
    content, had_invalid_bytes = _settle_encoding(content)
    try:
        parsed = feedparser.parse(content, response_headers={"content-location": base_url or ""})
    except Exception as exc:  # noqa: BLE001 - feedparser's loose parser can fail in odd ways on hostile input
        raise ParseError(f"{location}: feed could not be parsed: {type(exc).__name__}") from exc
    # A well-formed feed with no items yet is a feed: feedparser flags it only for the Content-Type it is not
    # given, and knows its version. Broken or truncated XML stays an error.
    from feedparser.exceptions import NonXMLContentType

    recognised = bool(parsed.get("version")) and (
        not parsed.bozo or isinstance(parsed.get("bozo_exception"), NonXMLContentType))
    if parsed.bozo and not parsed.entries and not recognised:
        raise ParseError(f"not a readable feed: {type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}")
    if not parsed.entries and not parsed.feed and not recognised:
        raise ParseError("no feed elements found (is this an HTML page?)")
    for number, entry in enumerate(parsed.entries, start=1):
        body = ""
        if entry.get("content"):
            body = " ".join(str(part.get("value", "")) for part in entry.content)
        body = body or str(entry.get("summary", "") or entry.get("description", ""))
        text = html_to_text(body)
        title = clean_line(html_to_text(str(entry.get("title", ""))))
        name = clean_line(entry.get("id") or entry.get("link"), 200) or "no id"
        if not text and not title:
            yield ParseError(f"entry #{number} ({name}) has no text")
            continue
        if had_invalid_bytes and (REPLACEMENT in text or REPLACEMENT in (title or "")):
            yield ParseError(
                f"entry #{number} ({name}) holds bytes that are not valid UTF-8 (a feed mixing encodings?)",
                payload=f"{title or ''}\n\n{text}",
            )
            continue
        yield RawItem(
            source_id=source_id,
            external_id=clean_line(entry.get("id") or entry.get("link"), 1000),
            url=_http_url(entry.get("link")),
            title=title,
            text=text or title or "",
            author=clean_line(entry.get("author"), 500),
            published_at=struct_to_datetime(entry.get("published_parsed") or entry.get("updated_parsed")),
        )
