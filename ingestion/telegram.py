"""Telegram Desktop exports (`result.json` in machine-readable JSON): one chat's history ("Export chat history")
or a whole account's ("Export Telegram data", every chat under `chats.list`).

Exports come from many client versions and from hand edits: any field may be missing or of another type.
A message that cannot be used is yielded as a ParseError; the others are read as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from pmon.ingestion.errors import ParseError
from pmon.ingestion.text import REPLACEMENT, Decoded, clean_line, clean_text, decode_bytes, parse_datetime
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


def parse_export(
    content: bytes | str, source_id: str, base_url: str | None = None, charset: str | None = None
) -> Iterator[RawItem | ParseError]:
    """Messages with text from a chat export or a full-account export; service messages and media without
    captions are skipped.

    A chat export has `messages` at the top. A full-account export ("Export Telegram data") has `chats.list`
    (and `left_chats.list`), each chat with its `id`, `name` and `messages`: message ids count from 1 in every
    chat, so an item's id there is `<chat id>:<message id>`, stable from one export to the next and distinct
    between chats.

    Raises:
        ParseError: not JSON, or neither a `messages` list nor a `chats.list` at the top level.
    """
    decoded = decode_bytes(content, charset) if isinstance(content, bytes) else None
    try:
        data = json.loads(decoded.text if decoded else content)
    except ValueError as exc:
        raise ParseError(f"not a Telegram export: invalid JSON ({exc})") from exc
    except RecursionError as exc:
        raise ParseError("not a Telegram export: JSON nested too deeply") from exc
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        yield from _chat_messages(data, source_id, base_url, decoded, chat_id=None)
        return
    chats = _full_export_chats(data)
    if chats is None:
        raise ParseError("not a Telegram export: no 'messages' list (a chat export) and no 'chats.list' "
                         "(a full-account export) at the top level")
    for number, chat in enumerate(chats, start=1):
        if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
            yield ParseError(f"chat #{number} has no 'messages' list", payload=str(chat)[:2000])
            continue
        chat_id = clean_line(chat.get("id"), 100)
        if chat_id is None or isinstance(chat.get("id"), bool | float):
            yield ParseError(f"chat #{number} ({clean_line(chat.get('name'), 100) or 'no name'}) has no usable id: its "
                             "messages could not be told from another chat's", payload=str(chat)[:2000])
            continue
        yield from _chat_messages(chat, source_id, base_url, decoded, chat_id=chat_id)


def _full_export_chats(data: object) -> list[object] | None:
    """The chats of a full-account export (`chats.list`, then `left_chats.list`); None when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("chats"), dict):
        return None
    chats = data["chats"].get("list")
    if not isinstance(chats, list):
        return None
    left = data.get("left_chats")
    left_chats = left.get("list") if isinstance(left, dict) else None
    return chats + (left_chats if isinstance(left_chats, list) else [])


def _chat_messages(
    chat: dict[str, Any], source_id: str, base_url: str | None, decoded: Decoded | None, chat_id: str | None
) -> Iterator[RawItem | ParseError]:
    channel = clean_line(chat.get("name"), 500) or source_id
    where = f"chat {chat_id}, " if chat_id else ""
    for number, message in enumerate(chat["messages"], start=1):
        if not isinstance(message, dict):
            yield ParseError(f"{where}message #{number} is not an object: {str(message)[:80]!r}", payload=str(message))
            continue
        if message.get("type", "message") != "message":
            continue
        raw_text = flatten_text(message.get("text", ""))
        text = clean_text(raw_text)
        if not text:
            continue  # a photo or file without a caption: nothing to read
        message_id = message.get("id")
        if message_id is None:
            yield ParseError(f"{where}message #{number} without an id: {text[:80]!r}", payload=text)
            continue
        if not isinstance(message_id, int | str) or isinstance(message_id, bool) or not str(message_id).strip():
            yield ParseError(f"{where}message #{number} with an unusable id {str(message_id)[:40]!r}", payload=text)
            continue
        if decoded is not None and decoded.invalid and REPLACEMENT in raw_text:
            yield ParseError(f"{where}message {message_id}: {decoded.reason}", payload=text)
            continue
        item_id = clean_line(message_id, 200) if chat_id is None else f"{chat_id}:{clean_line(message_id, 200)}"
        published = parse_datetime(message.get("date_unixtime")) or parse_datetime(message.get("date"))
        try:
            yield RawItem(
                source_id=source_id,
                external_id=item_id,
                url=f"{base_url.rstrip('/')}#{item_id}" if base_url else None,
                title=None,
                text=text,
                author=clean_line(message.get("from"), 500) or channel,
                published_at=published,
                forwarded_from=clean_line(message.get("forwarded_from"), 500),
            )
        except ValidationError as exc:
            yield ParseError(f"{where}message {message_id}: unusable fields ({exc.error_count()} errors)", payload=text)
