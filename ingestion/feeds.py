"""RSS and Atom feeds, parsed by feedparser."""

from __future__ import annotations

from collections.abc import Iterator

import feedparser

from ingestion.errors import ParseError
from ingestion.text import html_to_text, struct_to_datetime
from schemas.documents import RawItem


def parse_feed(content: bytes, source_id: str, base_url: str | None = None) -> Iterator[RawItem | ParseError]:
    """Items of an RSS/Atom document; an entry that cannot be used is yielded as a ParseError, not raised.

    Raises:
        ParseError: the document is not a feed at all (no entries and a parse error, or not XML).
    """
    parsed = feedparser.parse(content, response_headers={"content-location": base_url or ""})
    if parsed.bozo and not parsed.entries:
        raise ParseError(f"not a readable feed: {type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}")
    if not parsed.entries and not parsed.feed:
        raise ParseError("no feed elements found (is this an HTML page?)")
    for number, entry in enumerate(parsed.entries, start=1):
        body = ""
        if entry.get("content"):
            body = " ".join(part.get("value", "") for part in entry.content)
        body = body or entry.get("summary", "") or entry.get("description", "")
        text = html_to_text(body)
        title = html_to_text(entry.get("title", "")) or None
        if not text and not title:
            yield ParseError(f"entry #{number} ({entry.get('id') or entry.get('link') or 'no id'}) has no text")
            continue
        yield RawItem(
            source_id=source_id,
            external_id=entry.get("id") or entry.get("link"),
            url=entry.get("link"),
            title=title,
            text=text or title or "",
            author=entry.get("author"),
            published_at=struct_to_datetime(entry.get("published_parsed") or entry.get("updated_parsed")),
        )
