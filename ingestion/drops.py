"""File drops: JSONL or CSV with the fields id, url, title, text, published_at, author (only text required).

Every line or row stands alone: a bad one (invalid JSON, bytes in another encoding, a field of the wrong
type, nesting deep enough to exhaust the parser) is yielded as a ParseError with its line number and the
rest of the file is read as usual.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from pmon.ingestion.errors import ParseError
from pmon.ingestion.text import REPLACEMENT, clean_line, clean_text, decode_bytes, invalid_utf8_at, parse_datetime
from pmon.schemas.documents import RawItem

# The csv module refuses fields over 128 KiB with an error that ends the reader; the item size limit
# (max_item_chars) is the judge of long items instead, with a reason in quarantine.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _item(record: dict[str, Any], source_id: str, where: str) -> RawItem | ParseError:
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        return ParseError(f"{where}: no 'text'", payload=_preview(record))
    url = clean_line(record.get("url"), 4000)
    try:
        return RawItem(
            source_id=source_id,
            external_id=clean_line(record.get("id"), 1000),
            url=url if url and url.lower().startswith(("http://", "https://")) else None,
            title=clean_line(record.get("title")),
            text=clean_text(text),
            author=clean_line(record.get("author"), 500),
            published_at=parse_datetime(record.get("published_at")),
        )
    except ValidationError as exc:
        return ParseError(f"{where}: unusable fields ({exc.error_count()} errors)", payload=_preview(record))


def _preview(record: object) -> str:
    try:
        return json.dumps(record, ensure_ascii=False, default=str)[:2000]
    except (ValueError, TypeError, RecursionError):
        return repr(record)[:2000]


def parse_jsonl(content: bytes, source_id: str, charset: str | None = None) -> Iterator[RawItem | ParseError]:
    """One JSON object per line; a bad line is yielded as a ParseError with its line number.

    Args:
        content: the file's bytes.
        source_id: the source it belongs to.
        charset: the charset an HTTP header declares, if any (JSON Lines is UTF-8 unless that says otherwise).
    """
    decoded = decode_bytes(content, charset)
    # A replacement keeps every newline byte where it was: line n of the text is line n of the bytes.
    raw_lines = content.split(b"\n") if decoded.invalid else []
    for number, line in enumerate(decoded.text.split("\n"), start=1):
        if not line.strip():
            continue
        if decoded.invalid and REPLACEMENT in line:
            where = invalid_utf8_at(raw_lines[number - 1])
            yield ParseError(f"line {number}: {decoded.reason} ({where})", payload=line)
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield ParseError(f"line {number}: invalid JSON ({exc})", payload=line)
            continue
        except RecursionError:
            yield ParseError(f"line {number}: JSON nested too deeply", payload=line[:200])
            continue
        if not isinstance(record, dict):
            yield ParseError(f"line {number}: expected an object", payload=line)
            continue
        yield _item(record, source_id, f"line {number}")


def parse_csv(content: bytes, source_id: str, charset: str | None = None) -> Iterator[RawItem | ParseError]:
    """CSV with a header row; a row without text (or that cannot be read) is yielded as a ParseError.

    Args:
        content: the file's bytes.
        source_id: the source it belongs to.
        charset: the charset an HTTP header declares, if any.

    Raises:
        ParseError: the header names no 'text' column.
    """
    decoded = decode_bytes(content, charset)
    reader = csv.DictReader(io.StringIO(decoded.text, newline=""))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise ParseError(f"CSV header could not be read: {exc}") from exc
    if not fieldnames or "text" not in fieldnames:
        raise ParseError(f"CSV header must name a 'text' column, found {str(fieldnames)[:200]}")
    while True:
        line_before = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ParseError(f"row at line {reader.line_num}: {exc}")
            if reader.line_num == line_before:
                return  # the reader cannot move past this point: nothing more can be read
            continue
        where = f"row {reader.line_num}"
        if decoded.invalid and any(REPLACEMENT in value for value in row.values() if isinstance(value, str)):
            yield ParseError(f"{where}: {decoded.reason}", payload=_preview(row))
            continue
        yield _item(row, source_id, where)
