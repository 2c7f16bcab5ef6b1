"""The sources file (YAML): what to monitor, how to fetch it, when."""

from __future__ import annotations

import difflib
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
        seconds = parse_interval(value)
        if seconds is not None:
            if not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS:
                raise ValueError(f"interval {value!r} is out of range: allowed from 10s to 365d")
            return value
        if len(value.split()) != 5:
            raise ValueError("expected an interval like '30s', '15m', '1h', '1d' or a 5-field cron expression")
        problem = cron_problem(value)
        if problem:
            raise ValueError(f"cron {value!r}: {problem}")
        return value

    @field_validator("location")
    @classmethod
    def _location_shape(cls, value: str) -> str:
        problem = location_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("pages")
    @classmethod
    def _pages_shape(cls, value: list[str]) -> list[str]:
        for page in value:
            problem = location_problem(page)
            if problem:
                raise ValueError(problem)
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
MIN_INTERVAL_SECONDS = 10
MAX_INTERVAL_SECONDS = 365 * 86400
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CRON_FIELDS = (  # name, lowest, highest, names accepted in place of numbers
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)


def location_problem(location: str) -> str | None:
    """Why `location` is neither an http(s) URL nor a local path; None when it is one of them."""
    if not location.strip():
        return "empty location; expected an http(s) URL or a local path"
    match = _SCHEME.match(location)
    if match is None or len(match.group(1)) == 1:  # no scheme, or a drive letter (C://...): a local path
        if location.lower().startswith(("http:", "https:")):
            return f"{location!r} is not a complete URL; expected http(s)://host/..."
        return None
    scheme = match.group(1).lower()
    if scheme in ("http", "https"):
        if not location.startswith(("http://", "https://")) or not location.split("://", 1)[1].split("/", 1)[0]:
            return f"{location!r} is not a complete URL; expected http(s)://host/..."
        return None
    hint = (
        f"; for a local file write its path ({location[7:]})"
        if scheme == "file" and location.startswith("file://")
        else ""
    )
    return f"scheme {scheme!r} is not supported: only http(s) URLs or local paths{hint}"


def cron_problem(expression: str) -> str | None:
    """What is wrong with a 5-field cron expression (minute hour day-of-month month day-of-week); None if valid."""
    for text, (name, low, high, names) in zip(expression.split(), _CRON_FIELDS, strict=True):
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"{name} field {text!r}: step {step!r} must be a whole number from 1"
            if base == "*":
                continue
            ends = base.split("-")
            if len(ends) > 2 or not all(ends):
                return f"{name} field {text!r}: {part!r} is not a number, a range a-b or '*'"
            values = []
            for end in ends:
                if end.lower() in names:
                    values.append(names.index(end.lower()) + (1 if name == "month" else 0))
                elif end.isdigit():
                    values.append(int(end))
                else:
                    return f"{name} field {text!r}: {end!r} is not a number" + (
                        f" or one of {', '.join(names)}" if names else ""
                    )
            if any(not low <= v <= high for v in values):
                return f"{name} field {text!r}: values must be from {low} to {high}"
            if len(values) == 2 and values[0] > values[1]:
                return f"{name} field {text!r}: range {base!r} runs backwards"
    return None


def parse_interval(text: str) -> int | None:
    """'15m' → 900 seconds; None when `text` is not an interval."""
    match = _INTERVAL.match(text.strip())
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None


def load_sources(path: str | Path, check_files: bool = False) -> SourcesFile:
    """Read and validate a sources YAML file; local locations are resolved against the file's folder.

    Arguments:
        path: the sources file.
        check_files: also require the local file (or Telegram export folder) of every enabled source to exist,
            as `pmon sources validate` does; runs leave it off (a drop may appear later: the run records it).

    Raises:
        SourcesFileError: unreadable YAML, a field that fails validation or (check_files) a missing local file,
            with its place in the file.
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
    locations = [source.location for source in parsed.sources]
    for source in parsed.sources:
        if not source.is_remote:
            local = Path(source.location)
            if not local.is_absolute():
                source.location = str((path.parent / local).resolve())
    if check_files:
        missing = [
            f"  - source #{number} ({source.id!r}) field 'location': no such file {source.location}"
            + ("" if Path(raw_location).is_absolute() else f" ({raw_location!r} resolves against {path.parent})")
            for number, (source, raw_location) in enumerate(zip(parsed.sources, locations, strict=True), start=1)
            if source.enabled and not source.is_remote and not _local_input_exists(source)
        ]
        if missing:
            raise SourcesFileError("\n".join([f"{path}: {len(missing)} problem(s)", *missing]))
    return parsed


def _local_input_exists(source: SourceConfig) -> bool:
    local = Path(source.location)
    if source.kind is SourceKind.telegram and local.is_dir():  # an export folder: its result.json is read
        return (local / "result.json").is_file()
    return local.is_file()


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
        message = error["msg"]
        if error["type"] == "extra_forbidden" and loc:
            model = SourceConfig if len(loc) >= 3 and loc[0] == "sources" else SourcesFile
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
            message += f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(model.model_fields)}"
        lines.append(f"  - {where}: {message}")
    return "\n".join(lines)
