"""The pipeline's steps, each a plain function: fetch a group of sources, dedupe one source's items, analyse one
batch of texts. `pmon.flows.monitor` submits the first and the last as Prefect tasks; `run_pipeline` calls them on
whatever executor it is given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from pmon.ingestion import IngestLimits, SafeFetcher, SourceBatch, read_source
from pmon.schemas.detections import Classification
from pmon.schemas.documents import RawItem, identity
from pmon.schemas.language import LanguageResult
from pmon.schemas.runs import SourceRunStats
from pmon.schemas.sources import SourceConfig
from pmon.warehouse.store import utcnow

if TYPE_CHECKING:
    from pmon.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Waits before a source's second and third tries after a `TransientFetchError` (timeout, refused, HTTP 429/5xx).
#: The only retry of a fetch: the flow's tasks are not retried on top of it.
FETCH_RETRY_DELAYS_S = (1.0, 5.0)
#: Fetch tasks per run at most: one source per task up to this many sources, consecutive sources grouped beyond.
#: Prefect's cost per task run (~10 ms here) made a run over 500 sources that all answered 304 take 10 s.
FETCH_TASKS_PER_RUN = 40

_T = TypeVar("_T")

#: What a fetch request carries: the source and the conditional-GET state saved after its last complete fetch.
FetchRequest = tuple[SourceConfig, str | None, str | None]


def fetch_sources(
    requests: list[FetchRequest], limits: IngestLimits, fetcher: SafeFetcher | None = None,
) -> list[SourceBatch]:
    """Fetch and parse a group of sources in order: (source, etag, last_modified) each; a batch per source.

    A source that fails with a transient error is tried again after each of `FETCH_RETRY_DELAYS_S`; any other
    failure is its batch's problem, and the group's other sources go on.

    Args:
        fetcher: the run's shared fetcher (one set of clients and one TLS context for all sources); None: one
            for this group alone. A copy that crossed to another process (Dask) is closed after use.
    """
    own = fetcher is None
    fetcher = fetcher if fetcher is not None else SafeFetcher(limits)
    try:
        return [_fetch_one(fetcher, *request) for request in requests]
    finally:
        if own or fetcher.detached:
            fetcher.close()


def _fetch_one(fetcher: SafeFetcher, source: SourceConfig, etag: str | None, last_modified: str | None) -> SourceBatch:
    for attempt, delay in enumerate((*FETCH_RETRY_DELAYS_S, None), start=1):
        try:
            batch = read_source(source, fetcher, etag, last_modified)
        except Exception as exc:  # noqa: BLE001 - one broken source never stops its group or the run
            batch = SourceBatch(source_id=source.id)
            batch.fail("fetch", f"{type(exc).__name__}: {exc}", location=source.location)
            return batch
        if delay is None or batch.items or not batch.transient:
            return batch
        log.warning("source %s: %s; trying again in %g s (try %d)", source.id, batch.problems[0].reason, delay,
                    attempt + 1)
        time.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns on its last try


def fetch_groups(sources: Sequence[_T]) -> list[list[_T]]:
    """Consecutive sources, at most `FETCH_TASKS_PER_RUN` groups (one source each when there are fewer)."""
    size = max(1, -(-len(sources) // FETCH_TASKS_PER_RUN))
    return [list(sources[i : i + size]) for i in range(0, len(sources), size)]


class ClassifierMismatch(RuntimeError):
    """A task runner's worker has another classifier (codebook, heads or encoder) than the run."""


def analyse_batch(
    texts: list[str], expected_tag: str | None = None, heads_path: str | None = None,
) -> tuple[list[LanguageResult], list[Classification]]:
    """Detect language and classify narratives for one batch of texts (with the run's classifier, checked)."""
    from pmon.classifiers.langid import detect_document
    from pmon.classifiers.narratives import load_classifier

    classifier = load_classifier(heads_path=heads_path)
    if expected_tag is not None and classifier.version_tag != expected_tag:
        # On a Dask cluster each worker loads its own classifier from its own files and environment: a worker
        # that differs would store detections under the run's tag that the run's classifier never made.
        raise ClassifierMismatch(
            f"worker classifier {classifier.version_tag} differs from the run's {expected_tag}: give every worker "
            "the same codebook, trained heads (PMON_NARRATIVE_HEADS) and encoder"
        )
    languages = [detect_document(text) for text in texts]
    classifications = classifier.classify(texts)
    return languages, classifications


@dataclass
class NewDocument:
    """An item not stored yet, on its way to the warehouse, with its id and content hash computed once."""

    item: RawItem
    id: str
    hash: str


@dataclass
class FetchRecord:
    """What is kept of a source's fetch until the end of the run: enough to save its conditional-GET state."""

    source_id: str
    etag: str | None
    last_modified: str | None
    not_modified: bool
    complete: bool
    newest_published_at: datetime | None


def dedupe(warehouse: Warehouse, batch: SourceBatch, limits: IngestLimits) -> tuple[list[NewDocument], SourceRunStats,
                                                                                     FetchRecord]:
    """The source's items not stored yet (ids computed once), its item cap applied.

    A document's id is a hash of its source and normalised text, so an item seen before is dropped here, before
    any model runs. Items over `limits.max_items_per_source` are held back (counted apart from duplicates) and
    come in on the next run. The batch's problems are left for the caller to quarantine.
    """
    stats = SourceRunStats(source_id=batch.source_id, fetched=len(batch.items), not_modified=batch.not_modified)
    docs: dict[str, NewDocument] = {}  # ids carry the source: duplicates can only be within this batch
    newest: datetime | None = None
    now = utcnow()
    for item in batch.items:
        doc_id, text_hash = identity(item.source_id, item.full_text)
        docs.setdefault(doc_id, NewDocument(item, doc_id, text_hash))
        published = _naive_utc(item.published_at) or now  # as stored: an item without a date is dated when stored
        newest = published if newest is None or published > newest else newest
    stored = warehouse.existing_ids(list(docs))
    fresh = [doc for doc_id, doc in docs.items() if doc_id not in stored]
    stats.duplicates = len(batch.items) - len(fresh)
    if len(fresh) > limits.max_items_per_source:
        stats.held_back = len(fresh) - limits.max_items_per_source
        batch.fail("item", f"{len(fresh)} new items; {limits.max_items_per_source} taken this run, the rest next run")
        fresh = fresh[: limits.max_items_per_source]
    stats.new = len(fresh)
    stats.quarantined = len(batch.problems)
    if batch.problems:
        stats.error = batch.problems[0].reason
    record = FetchRecord(batch.source_id, batch.etag, batch.last_modified, batch.not_modified, batch.complete, newest)
    return fresh, stats, record


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)
