"""Ingestion adapters: one per source kind, each turning bytes into RawItems and bad input into quarantine.

`read_source` never raises for a broken source or item: failures come back as `QuarantinedItem`s with their
reason, so a monitoring run always goes on with the other sources.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pmon.ingestion.content import check_content
from pmon.ingestion.drops import parse_csv, parse_jsonl
from pmon.ingestion.errors import BlockedAddress, FetchError, IngestError, ParseError, TransientFetchError
from pmon.ingestion.feeds import parse_feed
from pmon.ingestion.http import FetchedResponse, SafeFetcher, check_address
from pmon.ingestion.limits import IngestLimits
from pmon.ingestion.pages import parse_page
from pmon.ingestion.telegram import parse_export
from pmon.ingestion.text import charset_of, clean_line, clean_text
from pmon.schemas.documents import QuarantinedItem, RawItem
from pmon.schemas.sources import SourceConfig, SourceKind

__all__ = [
    "BlockedAddress",
    "FetchError",
    "IngestError",
    "IngestLimits",
    "ParseError",
    "SafeFetcher",
    "SourceBatch",
    "TransientFetchError",
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
    #: The source failed with a `TransientFetchError` (timeout, dropped connection, HTTP 429/5xx): worth a retry.
    transient: bool = False
    seconds: float = 0.0

    def fail(self, stage: str, reason: str, location: str | None = None, payload: str | None = None) -> None:
        """Record a problem; the batch is then incomplete."""
        self.problems.append(
            QuarantinedItem(source_id=self.source_id, stage=stage, reason=reason, location=location,
                            payload=payload[:2000] if payload else None)
        )
        self.complete = False


def read_source(
    source: SourceConfig,
    fetcher: SafeFetcher,
    etag: str | None = None,
    last_modified: str | None = None,
) -> SourceBatch:
    """Fetch and parse one source within its limits; problems are recorded, never raised.

    Args:
        source: the source's configuration.
        fetcher: the HTTP fetcher of this run (its limits apply to local files too).
        etag: ETag saved after the source's last complete fetch.
        last_modified: Last-Modified saved after the source's last complete fetch.

    Returns:
        The items (clean text, valid Unicode, within `max_item_chars`) and the problems, each with its reason.
    """
    started = time.monotonic()
    batch = SourceBatch(source_id=source.id)
    deadline = started + fetcher.limits.max_source_seconds
    try:
        reader = _READERS[source.kind]
        reader(source, fetcher, batch, etag, last_modified, deadline)
    except IngestError as exc:
        batch.fail("fetch" if isinstance(exc, FetchError) else "parse", str(exc), location=source.location,
                   payload=getattr(exc, "payload", None))
        batch.transient = isinstance(exc, TransientFetchError)
    except Exception as exc:  # noqa: BLE001 - a bug in a parser must not stop the other sources
        batch.fail("parse", f"unexpected {type(exc).__name__}: {str(exc)[:500]}", location=source.location)
    _sanitise_items(batch)
    _apply_item_limits(batch, fetcher.limits)
    batch.seconds = time.monotonic() - started
    return batch


# -- readers, one per kind ---------------------------------------------------------------------------------------
def _load(
    source: SourceConfig, fetcher: SafeFetcher, location: str, batch: SourceBatch, deadline: float,
    etag: str | None = None, last_modified: str | None = None,
) -> FetchedResponse | None:
    """Bytes of a URL or a local file, checked to be a text document; None when the server says not modified."""
    if location.startswith(("http://", "https://")):
        response = fetcher.get(
            location, etag=etag, last_modified=last_modified, allow_private=source.allow_private_network,
            deadline=deadline,
        )
        if response.not_modified:
            batch.not_modified = True
            return None
        check_content(response.content, response.content_type, location)
        return response
    path = Path(location)
    try:
        size = path.stat().st_size
        if size > fetcher.limits.max_response_bytes:
            raise FetchError(f"{path}: {size} bytes is over the {fetcher.limits.max_response_bytes} byte cap")
        content = path.read_bytes()
    except OSError as exc:
        raise FetchError(f"{path}: {exc.strerror or exc}") from exc
    check_content(content, None, location)
    return FetchedResponse(str(path), 200, content, "", None, None)


def _collect(batch: SourceBatch, results: Iterable[RawItem | ParseError], location: str) -> None:
    for result in results:
        if isinstance(result, ParseError):
            batch.problems.append(
                QuarantinedItem(source_id=batch.source_id, stage="item", reason=str(result), location=location,
                                payload=result.payload)
            )
        else:
            batch.items.append(result)


def _read_feed(
    source: SourceConfig, fetcher: SafeFetcher, batch: SourceBatch, etag: str | None, lm: str | None, deadline: float
) -> None:
    response = _load(source, fetcher, source.location, batch, deadline, etag, lm)
    if response is None:
        return
    batch.etag, batch.last_modified = response.etag, response.last_modified
    _collect(batch, parse_feed(response.content, source.id, base_url=response.url, content_type=response.content_type),
             source.location)
    if source.fetch_full_text:
        for index, item in enumerate(batch.items):
            if not item.url:
                continue
            if time.monotonic() > deadline:
                batch.fail("fetch", f"time budget of {fetcher.limits.max_source_seconds}s spent; the rest next run")
                break
            try:
                page = _load(source, fetcher, item.url, batch, deadline)
                if page is None:
                    continue
                article = parse_page(page.content, source.id, item.url, page.content_type)
            except IngestError as exc:
                # Keep the feed's summary so the item is not lost; the full text is retried next run.
                batch.fail("fetch", f"full text not fetched, summary kept: {exc}", location=item.url)
                continue
            batch.items[index] = item.model_copy(
                update={
                    "text": article.text,
                    "title": item.title or article.title,
                    "author": item.author or article.author,
                    "published_at": item.published_at or article.published_at,
                }
            )


def _read_html(
    source: SourceConfig, fetcher: SafeFetcher, batch: SourceBatch, etag: str | None, lm: str | None, deadline: float
) -> None:
    for url in [source.location, *source.pages]:
        try:
            page = _load(source, fetcher, url, batch, deadline)
            if page is not None:
                batch.items.append(parse_page(page.content, source.id, url, page.content_type))
        except IngestError as exc:
            batch.fail("fetch" if isinstance(exc, FetchError) else "parse", str(exc), location=url,
                       payload=getattr(exc, "payload", None))


def _read_telegram(
    source: SourceConfig, fetcher: SafeFetcher, batch: SourceBatch, etag: str | None, lm: str | None, deadline: float
) -> None:
    location = source.location
    if not location.startswith(("http://", "https://")) and Path(location).is_dir():
        location = str(Path(location) / "result.json")
    response = _load(source, fetcher, location, batch, deadline, etag, lm)
    if response is None:
        return
    batch.etag, batch.last_modified = response.etag, response.last_modified
    base = source.location if source.is_remote else None
    _collect(batch, parse_export(response.content, source.id, base_url=base, charset=charset_of(response.content_type)),
             location)


def _file_reader(parse: Callable[..., Iterator[RawItem | ParseError]]) -> Callable[..., None]:
    def read(
        source: SourceConfig,
        fetcher: SafeFetcher,
        batch: SourceBatch,
        etag: str | None,
        lm: str | None,
        deadline: float,
    ) -> None:
        response = _load(source, fetcher, source.location, batch, deadline, etag, lm)
        if response is None:
            return
        batch.etag, batch.last_modified = response.etag, response.last_modified
        _collect(batch, parse(response.content, source.id, charset=charset_of(response.content_type)), source.location)

    return read


_READERS: dict[SourceKind, Callable[..., None]] = {
    SourceKind.feed: _read_feed,
    SourceKind.html: _read_html,
    SourceKind.telegram: _read_telegram,
    SourceKind.jsonl: _file_reader(parse_jsonl),
    SourceKind.csv: _file_reader(parse_csv),
}


def _sanitise_items(batch: SourceBatch) -> None:
    """Last line of defence whatever the adapter: valid Unicode, no control or invisible characters, some text."""
    kept = []
    for item in batch.items:
        text = clean_text(item.text)
        if not text:
            batch.problems.append(QuarantinedItem(
                source_id=batch.source_id, stage="item", location=item.url,
                reason="no text left once control and invisible characters are removed", payload=item.text[:2000],
            ))
            continue
        fields = {"text": text, "title": clean_line(item.title), "author": clean_line(item.author, 500),
                  "external_id": clean_line(item.external_id, 1000), "url": clean_line(item.url, 4000),
                  "forwarded_from": clean_line(item.forwarded_from, 500)}
        changed = {key: value for key, value in fields.items() if value != getattr(item, key)}
        kept.append(item.model_copy(update=changed) if changed else item)
    batch.items = kept


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
