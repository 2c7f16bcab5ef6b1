"""Telegram Desktop channel exports (`result.json`, "Export chat history" in machine-readable JSON).

Exports come from many client versions and from hand edits: any field may be missing or of another type.
A message that cannot be used is yielded as a ParseError; the others are read as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from pmon.ingestion.errors import ParseError
from pmon.ingestion.text import REPLACEMENT, clean_line, clean_text, decode_bytes, parse_datetime
from pmon.schemas.documents import RawItem

_MAX_ENTITY_DEPTH = 20


def flatten_text(text: Any, _depth: int = 0) -> str:
    """Telegram's `text` is a string or a list of strings and entity objects ({"type", "text", ...})."""
    if isinstance(text, str):
        return text
    if isinstance(text, list) and _depth < _MAX_ENTITY_DEPTH:
        parts = []
        for part in text:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                parts.append(flatten_text(part.get("text", ""), _depth + 1))
            elif isinstance(part, list):
                parts.append(flatten_text(part, _depth + 1))
        return "".join(parts)
    return ""


def parse_export(content: bytes | str, source_id: str, base_url: str | None = None) -> Iterator[RawItem | ParseError]:
    """Messages with text from one channel export; service messages and media without captions are skipped.

    Raises:
        ParseError: not JSON, or no `messages` list.
    """
    decoded = decode_bytes(content) if isinstance(content, bytes) else None
    try:
        data = json.loads(decoded.text if decoded else content)
    except ValueError as exc:
        raise ParseError(f"not a Telegram export: invalid JSON ({exc})") from exc
    except RecursionError as exc:
        raise ParseError("not a Telegram export: JSON nested too deeply") from exc
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ParseError("not a Telegram export: no 'messages' list at the top level")
    channel = clean_line(data.get("name"), 500) or source_id
    for number, message in enumerate(data["messages"], start=1):
        if not isinstance(message, dict):
            yield ParseError(f"message #{number} is not an object: {str(message)[:80]!r}", payload=str(message))
            continue
        if message.get("type", "message") != "message":
            continue
        raw_text = flatten_text(message.get("text", ""))
        text = clean_text(raw_text)
        if not text:
            continue  # a photo or file without a caption: nothing to read
        message_id = message.get("id")
        if message_id is None:
            yield ParseError(f"message #{number} without an id: {text[:80]!r}", payload=text)
            continue
        if not isinstance(message_id, int | str) or isinstance(message_id, bool) or not str(message_id).strip():
            yield ParseError(f"message #{number} with an unusable id {str(message_id)[:40]!r}", payload=text)
            continue
        if decoded is not None and decoded.invalid and REPLACEMENT in raw_text:
            yield ParseError(f"message {message_id}: bytes that are not valid UTF-8 (mixed encodings?)", payload=text)
            continue
        published = parse_datetime(message.get("date_unixtime")) or parse_datetime(message.get("date"))
        try:
            yield RawItem(
                source_id=source_id,
                external_id=clean_line(message_id, 200),
                url=f"{base_url.rstrip('/')}#{clean_line(message_id, 200)}" if base_url else None,
                title=None,
                text=text,
                author=clean_line(message.get("from"), 500) or channel,
                published_at=published,
                forwarded_from=clean_line(message.get("forwarded_from"), 500),
            )
        except ValidationError as exc:
            yield ParseError(f"message {message_id}: unusable fields ({exc.error_count()} errors)", payload=text)
