"""Telegram Desktop channel exports (`result.json`, "Export chat history" in machine-readable JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ingestion.errors import ParseError
from ingestion.text import clean_text, parse_datetime
from schemas.documents import RawItem


def flatten_text(text: Any) -> str:
    """Telegram's `text` is a string or a list of strings and entity objects ({"type", "text", ...})."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        parts = []
        for part in text:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                parts.append(str(part.get("text", "")))
        return "".join(parts)
    return ""


def parse_export(content: bytes | str, source_id: str, base_url: str | None = None) -> Iterator[RawItem | ParseError]:
    """Messages with text from one channel export; service messages and media without captions are skipped.

    Raises:
        ParseError: not JSON, or no `messages` list.
    """
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"not a Telegram export: invalid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ParseError("not a Telegram export: no 'messages' list at the top level")
    channel = str(data.get("name") or source_id)
    for message in data["messages"]:
        if not isinstance(message, dict):
            yield ParseError(f"message that is not an object: {str(message)[:80]!r}")
            continue
        if message.get("type", "message") != "message":
            continue
        text = clean_text(flatten_text(message.get("text", "")))
        if not text:
            continue  # a photo or file without a caption: nothing to read
        message_id = message.get("id")
        published = parse_datetime(message.get("date_unixtime")) or parse_datetime(message.get("date"))
        if message_id is None:
            yield ParseError(f"message without an id: {text[:80]!r}")
            continue
        yield RawItem(
            source_id=source_id,
            external_id=str(message_id),
            url=f"{base_url.rstrip('/')}#{message_id}" if base_url else None,
            title=None,
            text=text,
            author=str(message.get("from") or channel),
            published_at=published,
            forwarded_from=str(message["forwarded_from"]) if message.get("forwarded_from") else None,
        )
