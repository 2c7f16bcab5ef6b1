"""Ingestion adapters: one per source kind, each turning bytes into RawItems and bad input into quarantine.

`read_source` never raises for a broken source or item: failures come back as `QuarantinedItem`s with their
reason, so a monitoring run always goes on with the other sources.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.drops import parse_csv, parse_jsonl
from ingestion.errors import BlockedAddress, FetchError, IngestError, ParseError
from ingestion.feeds import parse_feed
from ingestion.http import FetchedResponse, SafeFetcher, check_address
from ingestion.limits import IngestLimits
from ingestion.pages import parse_page
from ingestion.telegram import parse_export
from schemas.documents import QuarantinedItem, RawItem
from schemas.sources import SourceConfig, SourceKind

__all__ = [
    "BlockedAddress",
    "FetchError",
    "IngestError",
    "IngestLimits",
    "ParseError",
    "SafeFetcher",
    "SourceBatch",
    "check_address",
    "read_source",
]


@dataclass
class SourceBatch:
    """What one source gave in one run."""

    source_id: str
    items: list[RawItem] = field(default_factory=list)
    problems: list[QuarantinedItem] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    #: False when something was skipped or failed: then the fetch state is not saved, so the next run retries.
    complete: bool = True
    seconds: float = 0.0

    def fail(self, stage: str, reason: str, location: str | None = None, payload: str | None = None) -> None:
        """Record a problem; the batch is then incomplete."""
        self.problems.append(
            QuarantinedItem(source_id=self.source_id, stage=stage, reason=reason, location=location, payload=payload)
        )
        self.complete = False


def read_source(
    source: SourceConfig,
    fetcher: SafeFetcher,
    etag: str | None = None,
    last_modified: str | None = None,
) -> SourceBatch:
    """Fetch and parse one source within its limits; problems are recorded, never raised."""
    started = time.monotonic()
    batch = SourceBatch(source_id=source.id)
    try:
        reader = _READERS[source.kind]
        reader(source, fetcher, batch, etag, last_modified)
    except IngestError as exc:
        batch.fail("fetch" if isinstance(exc, FetchError) else "parse", str(exc), location=source.location)
    except Exception as exc:  # noqa: BLE001 - a bug in a parser must not stop the other sources
        batch.fail("parse", f"unexpected {type(exc).__name__}: {exc}", location=source.location)
    _apply_item_limits(batch, fetcher.limits)
    batch.seconds = time.monotonic() - started
    return batch


# -- readers, one per kind ---------------------------------------------------------------------------------------
def _load(
    source: SourceConfig, fetcher: SafeFetcher, location: str, batch: SourceBatch,
    etag: str | None = None, last_modified: str | None = None,
) -> FetchedResponse | None:
    """Bytes of a URL or a local file; None when the server says not modified."""
    if location.startswith(("http://", "https://")):
        response = fetcher.get(
            location, etag=etag, last_modified=last_modified, allow_private=source.allow_private_network
        )
        if response.not_modified:
            batch.not_modified = True
            return None
        return response
    path = Path(location)
    try:
        size = path.stat().st_size
        if size > fetcher.limits.max_response_bytes:
            raise FetchError(f"{path}: {size} bytes is over the {fetcher.limits.max_response_bytes} byte cap")
        content = path.read_bytes()
    except OSError as exc:
        raise FetchError(f"{path}: {exc.strerror or exc}") from exc
    return FetchedResponse(str(path), 200, content, "", None, None)


def _collect(batch: SourceBatch, results: Iterable[RawItem | ParseError], location: str) -> None:
    for result in results:
        if isinstance(result, ParseError):
            batch.problems.append(
                QuarantinedItem(source_id=batch.source_id, stage="item", reason=str(result), location=location)
            )
        else:
            batch.items.append(result)


def _read_feed(source: SourceConfig, fetcher: SafeFetcher, batch: SourceBatch, etag: str | None, lm: str | None) -> None:
    response = _load(source, fetcher, source.location, batch, etag, lm)
    if response is None:
        return
    batch.etag, batch.last_modified = response.etag, response.last_modified
    _collect(batch, parse_feed(response.content, source.id, base_url=response.url), source.location)
    if source.fetch_full_text:
        deadline = time.monotonic() + fetcher.limits.max_source_seconds
        for index, item in enumerate(batch.items):
            if not item.url:
                continue
            if time.monotonic() > deadline:
                batch.fail("fetch", f"time budget of {fetcher.limits.max_source_seconds}s spent; the rest next run")
                break
            try:
                page = _load(source, fetcher, item.url, batch)
                if page is None:
                    continue
                article = parse_page(page.content, source.id, item.url)
            except IngestError as exc:
                # Keep the feed's summary so the item is not lost; the full text is retried next run.
                batch.fail("fetch", f"full text not fetched, summary kept: {exc}", location=item.url)
                continue
            batch.items[index] = item.model_copy(
                update={"text": article.text, "title": item.title or article.title, "author": item.author or article.author,
                        "published_at": item.published_at or article.published_at}
            )


def _read_html(source: SourceConfig, fetcher: SafeFetcher, batch: SourceBatch, etag: str | None, lm: str | None) -> None:
    for url in [source.location, *source.pages]:
        try:
            page = _load(source, fetcher, url, batch)
            if page is not None:
                batch.items.append(parse_page(page.content, source.id, url))
        except IngestError as exc:
            batch.fail("fetch" if isinstance(exc, FetchError) else "parse", str(exc), location=url)


def _read_telegram(source: SourceConfig, fetcher: SafeFetcher, batch: SourceBatch, etag: str | None, lm: str | None) -> None:
    location = source.location
    if not location.startswith(("http://", "https://")) and Path(location).is_dir():
        location = str(Path(location) / "result.json")
    response = _load(source, fetcher, location, batch, etag, lm)
    if response is None:
        return
    batch.etag, batch.last_modified = response.etag, response.last_modified
    base = source.location if source.is_remote else None
    _collect(batch, parse_export(response.content, source.id, base_url=base), location)


def _file_reader(parse: Callable[[bytes, str], Iterator[RawItem | ParseError]]) -> Callable[..., None]:
    def read(source: SourceConfig, fetcher: SafeFetcher, batch: SourceBatch, etag: str | None, lm: str | None) -> None:
        response = _load(source, fetcher, source.location, batch, etag, lm)
        if response is None:
            return
        batch.etag, batch.last_modified = response.etag, response.last_modified
        _collect(batch, parse(response.content, source.id), source.location)

    return read


_READERS: dict[SourceKind, Callable[..., None]] = {
    SourceKind.feed: _read_feed,
    SourceKind.html: _read_html,
    SourceKind.telegram: _read_telegram,
    SourceKind.jsonl: _file_reader(parse_jsonl),
    SourceKind.csv: _file_reader(parse_csv),
}


def _apply_item_limits(batch: SourceBatch, limits: IngestLimits) -> None:
    kept = []
    for item in batch.items:
        size = len(item.full_text)
        if size > limits.max_item_chars:
            batch.problems.append(
                QuarantinedItem(
                    source_id=batch.source_id, stage="item", location=item.url,
                    reason=f"item of {size} characters is over the max_item_chars limit of {limits.max_item_chars}",
                    payload=item.full_text[:2000],
                )
            )
        else:
            kept.append(item)
    batch.items = kept
