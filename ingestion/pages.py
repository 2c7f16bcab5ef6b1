"""Article pages: main text, title and date extracted by trafilatura."""

from __future__ import annotations

import trafilatura

from ingestion.errors import ParseError
from ingestion.text import clean_text, parse_datetime
from schemas.documents import RawItem


def parse_page(content: bytes | str, source_id: str, url: str) -> RawItem:
    """The article in an HTML page.

    Raises:
        ParseError: no article text could be extracted.
    """
    html = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    try:
        extracted = trafilatura.bare_extraction(
            html, url=url, include_comments=False, include_tables=False, favor_precision=True, with_metadata=True
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ParseError(f"{url}: page could not be parsed: {type(exc).__name__}") from exc
    if extracted is None or not getattr(extracted, "text", None):
        raise ParseError(f"{url}: no article text found")
    return RawItem(
        source_id=source_id,
        external_id=url,
        url=url,
        title=clean_text(extracted.title) if extracted.title else None,
        text=clean_text(extracted.text),
        author=extracted.author,
        published_at=parse_datetime(extracted.date),
    )
