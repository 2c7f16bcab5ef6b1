"""Turning markup into plain text, and dates into UTC."""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime

import lxml.etree
import lxml.html

_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n\s*\n+")
# C0/C1 control characters other than tab and newline carry no text and break terminals and XML.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "article"}


def clean_text(text: str) -> str:
    """Strip control characters and collapse runs of spaces, keeping paragraph breaks."""
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed summaries), with block elements as line breaks."""
    if "<" not in fragment and "&" not in fragment:
        return clean_text(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return clean_text(fragment)
    for element in root.iter("script", "style"):
        element.drop_tree()
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return clean_text(root.text_content())


def struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time → aware datetime (None stays None)."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def parse_datetime(value: str | int | float | None) -> datetime | None:
    """ISO 8601 strings or Unix seconds → aware UTC datetime; None when absent or unreadable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(int(value), tz=UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
