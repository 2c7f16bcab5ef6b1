"""Reading labelled JSONL files (gold sets, evaluation files): one JSON object per line, errors named by line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A line that is not a JSON object, or a file that cannot be read; the message names file and line."""


def read_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of `path`.

    Raises:
        JsonlError: the file is missing, or a line is not valid JSON or not an object.
    """
    path = Path(path)
    if not path.is_file():
        raise JsonlError(f"{path}: no such file")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise JsonlError(f"{path}:{number}: invalid JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise JsonlError(f"{path}:{number}: expected a JSON object")
        yield number, record
