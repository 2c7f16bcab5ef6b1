"""RSS and Atom feeds, parsed by feedparser after the bytes have been checked and their encoding settled."""

from __future__ import annotations

import re
from collections.abc import Iterator

import feedparser

from pmon.ingestion.content import refuse_entity_declarations
from pmon.ingestion.errors import ParseError
from pmon.ingestion.text import (
    REPLACEMENT,
    Decoded,
    charset_of,
    clean_line,
    declared_xml_encoding,
    decode_bytes,
    html_to_text,
    struct_to_datetime,
)
from pmon.schemas.documents import RawItem

_HTML_START = re.compile(r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]{0,200}\?>")
_UTF8_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


def _settle_encoding(content: bytes, http_charset: str | None) -> Decoded:
    """The feed's text, decoded here rather than by feedparser (see `decode_bytes` for the order of evidence).

    feedparser decodes a whole document with one encoding: one item in windows-1251 inside a UTF-8 feed makes
    it fall back to a Latin encoding and garbles every item. Decoding here keeps the good items intact and
    marks the damaged ones (they hold U+FFFD) so they alone go to quarantine.
    """
    return decode_bytes(content, http_charset, declared_xml_encoding(content))


def _as_utf8_document(text: str) -> bytes:
    """UTF-8 bytes whose XML declaration says UTF-8: feedparser then reads exactly the text checked here, and
    no declaration (UTF-7, UTF-16 ...) can make it decode the bytes into something else."""
    text = text.lstrip("\ufeff")
    if _XML_DECLARATION.match(text):
        text = _XML_DECLARATION.sub(_UTF8_DECLARATION, text, count=1)
    return text.encode("utf-8", errors="surrogatepass")


def _http_url(value: object) -> str | None:
    url = clean_line(value, max_chars=4000)
    return url if url and url.lower().startswith(("http://", "https://")) else None


def parse_feed(
    content: bytes, source_id: str, base_url: str | None = None, content_type: str | None = None
) -> Iterator[RawItem | ParseError]:
    """Items of an RSS/Atom document; an entry that cannot be used is yielded as a ParseError, not raised.

    Args:
        content: the document's bytes.
        source_id: the source it belongs to.
        base_url: where it was fetched from (relative links, messages).
        content_type: the HTTP Content-Type header: its charset outranks the XML declaration.

    Raises:
        ParseError: the document is not a feed at all (no entries and a parse error, or not XML), or it
            declares XML entities.
    """
    location = base_url or "feed"
    if not content.strip():
        raise ParseError(f"{location}: empty document, not a feed")
    decoded = _settle_encoding(content, charset_of(content_type))
    if _HTML_START.match(decoded.text[:1024].lstrip("\ufeff")):
        raise ParseError(f"{location}: an HTML page, not a feed (has the feed moved?)")
    refuse_entity_declarations(decoded.text, location)
    try:
        parsed = feedparser.parse(
            _as_utf8_document(decoded.text), response_headers={"content-location": base_url or ""}
        )
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
        if decoded.invalid and (REPLACEMENT in text or REPLACEMENT in (title or "")):
            yield ParseError(
                f"entry #{number} ({name}) holds bytes that could not be decoded: {decoded.reason}",
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
