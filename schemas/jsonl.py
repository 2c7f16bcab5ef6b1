"""The one JSONL reader of files and standard input (gold sets, evaluation files, `pmon classify`,
`pmon detect-language`, `pmon link`): one JSON object per line, each problem named by its line.

Media drops are not read here: `pmon.ingestion.drops` parses fetched bytes and quarantines bad items.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A line that is not a JSON object, or a file that cannot be read; the message names file and line."""


def read_lines(
    source: str | Path | None, require_text: bool = False
) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, object or None, problem) for every non-blank line; a bad line does not stop the reading.

    Args:
        source: a file, or None / '-' for standard input.
        require_text: a line without a string `text` is a problem too.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
    ...     _ = f.write('{"text": "hi"}\\n\\nnot json\\n[1]\\n')
    >>> [(n, problem) for n, _, problem in read_lines(f.name)]
    [(1, ''), (3, 'invalid JSON (Expecting value: line 1 column 1 (char 0))'), (4, 'expected a JSON object')]
    >>> os.unlink(f.name)
    """
    if source is None or str(source) == "-":
        yield from _parse(sys.stdin, require_text)
        return
    path = Path(source)
    if not path.is_file():
        raise JsonlError(f"{path}: no such file")
    with path.open(encoding="utf-8") as stream:
        yield from _parse(stream, require_text)


def _parse(stream: Any, require_text: bool) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield number, None, f"invalid JSON ({exc})"
            continue
        if not isinstance(record, dict):
            yield number, None, "expected a JSON object"
        elif require_text and not isinstance(record.get("text"), str):
            yield number, None, "expected an object with a string 'text'"
        else:
            yield number, record, ""


def read_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of `path`; the first bad line stops the reading.

    Raises:
        JsonlError: the file is missing, or a line is not valid JSON or not an object.
    """
    for number, record, problem in read_lines(path):
        if record is None:
            raise JsonlError(f"{path}:{number}: {problem}")
        yield number, record
