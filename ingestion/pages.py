"""Article pages: main text, title and date extracted by trafilatura."""

from __future__ import annotations

import trafilatura
from trafilatura.settings import Document

from pmon.ingestion.errors import ParseError
from pmon.ingestion.text import (
    REPLACEMENT,
    charset_of,
    clean_line,
    clean_text,
    declared_html_charset,
    decode_bytes,
    parse_datetime,
)
from pmon.schemas.documents import RawItem

#: Share of U+FFFD in the extracted text above which a page is judged undecodable rather than merely odd.
MAX_REPLACEMENT_SHARE = 0.01


def parse_page(content: bytes | str, source_id: str, url: str, content_type: str | None = None) -> RawItem:
    """The article in an HTML page.

    The page's encoding comes from the HTTP header, then its <meta charset>, then the bytes themselves
    (trafilatura alone would ignore the declaration and guess).

    Args:
        content: the page, as fetched or as text.
        source_id: the source it belongs to.
        url: where it came from (also the item's id within the source).
        content_type: the Content-Type header, for its charset.

    Raises:
        ParseError: no article text could be extracted, or the page is too damaged to read.
    """
    invalid = False
    if isinstance(content, bytes):
        # The header's charset, then the page's own <meta>: the first that decodes the page wins.
        decoded = decode_bytes(content, charset_of(content_type), declared_html_charset(content))
        html, invalid = decoded.text, decoded.invalid
    else:
        html = content
    try:
        extracted = trafilatura.bare_extraction(
            html, url=url, include_comments=False, include_tables=False, favor_precision=True, with_metadata=True
        )
    except Exception as exc:  # noqa: BLE001 - lxml and trafilatura fail in many ways on hostile markup
        raise ParseError(f"{url}: page could not be parsed: {type(exc).__name__}") from exc
    if not isinstance(extracted, Document) or not extracted.text:  # with_metadata=True: a Document or None
        raise ParseError(f"{url}: no article text found")
    text = clean_text(extracted.text)
    if not text:
        raise ParseError(f"{url}: no article text found")
    if invalid and text.count(REPLACEMENT) > MAX_REPLACEMENT_SHARE * len(text):
        raise ParseError(f"{url}: the page mixes encodings; too much of its text is not valid UTF-8", payload=text)
    return RawItem(
        source_id=source_id,
        external_id=url,
        url=url,
        title=clean_line(extracted.title),
        text=text,
        author=clean_line(extracted.author, 500),
        published_at=parse_datetime(extracted.date),
    )
