"""The sources file (YAML): what to monitor, how to fetch it, when."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pmon.schemas.language import TARGET_LANGUAGES
from pmon.schemas.yaml_text import parse_yaml

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class SourceKind(StrEnum):
    """How a source is read. `feed` covers RSS and Atom (feedparser tells them apart)."""

    feed = "feed"
    html = "html"
    telegram = "telegram"
    jsonl = "jsonl"
    csv = "csv"


class SourceConfig(BaseModel):
    """One monitored source."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(description="stable id: lowercase letters, digits, '_', '.', '-'")]
    kind: SourceKind
    location: str = Field(description="http(s) URL or a local path (relative paths resolve against the sources file)")
    pages: list[str] = Field(default_factory=list, description="html sources: more page URLs besides `location`")
    expected_langs: list[str] = Field(default_factory=list, description="ISO 639-1 codes the source should publish in")
    tags: list[str] = Field(default_factory=list)
    group: str = Field(default="default", description="sources in one group share a schedule when served")
    schedule: str | None = Field(
        default=None, description="cron expression ('0 * * * *') or interval ('15m', '1h', '30s'); none: manual"
    )
    fetch_full_text: bool = Field(
        default=False, description="feeds: fetch each item's link and extract the article text with trafilatura"
    )
    enabled: bool = True
    allow_private_network: bool = Field(
        default=False, description="allow a URL that resolves to a loopback/private address (tests, the demo)"
    )

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must be 1-64 chars of lowercase letters, digits, '_', '.', '-', starting alphanumeric")
        return value

    @field_validator("expected_langs")
    @classmethod
    def _known_langs(cls, value: list[str]) -> list[str]:
        unknown = [lang for lang in value if lang not in TARGET_LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language(s) {unknown}; expected some of {list(TARGET_LANGUAGES)}")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule_shape(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if parse_interval(value) is None and len(value.split()) != 5:
            raise ValueError("expected an interval like '30s', '15m', '1h', '1d' or a 5-field cron expression")
        return value

    @property
    def is_remote(self) -> bool:
        """True when the location is fetched over HTTP(S)."""
        return self.location.startswith(("http://", "https://"))


class SourcesFile(BaseModel):
    """The whole sources file."""

    model_config = ConfigDict(extra="forbid")

    sources: list[SourceConfig]

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for source in value:
            if source.id in seen:
                raise ValueError(f"duplicate source id {source.id!r}")
            seen.add(source.id)
        return value


class SourcesFileError(ValueError):
    """The sources file cannot be used; the message names the file, the source and the field."""


_INTERVAL = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> int | None:
    """'15m' → 900 seconds; None when `text` is not an interval."""
    match = _INTERVAL.match(text.strip())
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


def load_sources(path: str | Path) -> SourcesFile:
    """Read and validate a sources YAML file; local locations are resolved against the file's folder.

    Raises:
        SourcesFileError: unreadable YAML or a field that fails validation, with its place in the file.
    """
    path = Path(path)
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SourcesFileError(f"{path}: no such file") from exc
    except yaml.YAMLError as exc:
        raise SourcesFileError(f"{path}: not valid YAML: {exc}") from exc
    if isinstance(raw, list):
        raw = {"sources": raw}
    try:
        parsed = SourcesFile.model_validate(raw)
    except ValidationError as exc:
        raise SourcesFileError(_explain(path, raw, exc)) from exc
    for source in parsed.sources:
        if not source.is_remote:
            local = Path(source.location)
            if not local.is_absolute():
                source.location = str((path.parent / local).resolve())
    return parsed


def _explain(path: Path, raw: object, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s)"]
    for error in exc.errors():
        loc = list(error["loc"])
        where = ".".join(str(part) for part in loc)
        if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int) and isinstance(raw, dict):
            try:
                source_id = raw["sources"][loc[1]].get("id", "?")
                where = f"source #{loc[1] + 1} ({source_id!r}) field '{'.'.join(str(p) for p in loc[2:]) or '-'}'"
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        lines.append(f"  - {where}: {error['msg']}")
    return "\n".join(lines)
