"""File drops: JSONL or CSV with the fields id, url, title, text, published_at, author (only text required)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from ingestion.errors import ParseError
from ingestion.text import clean_text, parse_datetime
from schemas.documents import RawItem


def _item(record: dict[str, Any], source_id: str, where: str) -> RawItem | ParseError:
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        return ParseError(f"{where}: no 'text'")
    return RawItem(
        source_id=source_id,
        external_id=str(record["id"]) if record.get("id") not in (None, "") else None,
        url=record.get("url") or None,
        title=record.get("title") or None,
        text=clean_text(text),
        author=record.get("author") or None,
        published_at=parse_datetime(record.get("published_at")),
    )


def parse_jsonl(content: bytes, source_id: str) -> Iterator[RawItem | ParseError]:
    """One JSON object per line; a bad line is yielded as a ParseError with its line number."""
    text = content.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield ParseError(f"line {number}: invalid JSON ({exc})")
            continue
        if not isinstance(record, dict):
            yield ParseError(f"line {number}: expected an object")
            continue
        yield _item(record, source_id, f"line {number}")


def parse_csv(content: bytes, source_id: str) -> Iterator[RawItem | ParseError]:
    """CSV with a header row; a row without text is yielded as a ParseError."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig", errors="replace")))
    if not reader.fieldnames or "text" not in reader.fieldnames:
        raise ParseError(f"CSV header must name a 'text' column, found {reader.fieldnames}")
    try:
        for number, row in enumerate(reader, start=2):
            yield _item(row, source_id, f"row {number}")
    except csv.Error as exc:
        yield ParseError(f"CSV: {exc}")
