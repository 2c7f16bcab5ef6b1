"""The `monitor` flow: ingest due sources → dedupe → detect language → classify narratives → store → refresh trends
→ evaluate alerts.

Fetching and per-batch language/narrative work are Prefect tasks, so they run on whichever task runner the flow
is given (threads by default, a Dask cluster for scale-out); the warehouse is written only from the flow itself,
one transaction per batch, which keeps a single writer and makes a killed run safe to re-run.

The run streams: sources are fetched a few ahead (one per task, or consecutive sources grouped into at most
`FETCH_TASKS_PER_RUN` tasks when there are many), each source is deduped as soon as its fetch is taken (in the
sources' order, so the same input makes the same batches), and its new documents join the analysis batches at
once, so fetching and parsing overlap the encoder and no list holds every item of the run (only the batches
being analysed and a small record per source).
"""

from __future__ import annotations

import functools
import logging
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pmon.flows import settings as _settings  # noqa: F401 - before prefect
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.task_runners import ThreadPoolTaskRunner

from pmon.ingestion import IngestLimits, SafeFetcher, SourceBatch, read_source
from pmon.schemas.detections import Classification
from pmon.schemas.documents import RawItem, identity
from pmon.schemas.language import LanguageResult
from pmon.schemas.runs import SourceRunStats
from pmon.schemas.sources import SourceConfig, load_sources
from pmon.warehouse import Warehouse, refresh_trends
from pmon.warehouse.store import crash_point, utcnow

BATCH_SIZE = 128
#: Fetch tasks kept running ahead of the analysis: few while analysis batches are in flight, so that a batch
#: submitted to the task runner never queues behind fetches, more when the flow only waits on fetches.
FETCH_AHEAD_ANALYSING = 2
FETCH_AHEAD_IDLE = 4
#: The GIL's switch interval during a run (Python's default: 5 ms). The encoder's forward pass runs torch kernels
#: without the GIL but takes it back between them, hundreds of times per batch; while another thread runs Python
#: (language ID, parsing, TF-IDF, Prefect), each retake waited up to a whole interval and both cores idled.
#: Measured at 1,200 documents on 2 cores: the flow 40.1 -> 34.1 s, the encoder alone on the same calls unchanged.
GIL_SWITCH_INTERVAL_S = 0.0005

log = logging.getLogger(__name__)


def _is_transient(batch: SourceBatch) -> bool:
    if batch.items or not batch.problems or batch.problems[0].stage != "fetch":
        return False
    reason = batch.problems[0].reason
    return any(marker in reason for marker in ("timed out", "ConnectError", "ReadError", "HTTP 5", "RemoteProtocolError"))


#: Waits before a source's second and third tries after a transient network error (timeout, refused, HTTP 5xx).
FETCH_RETRY_DELAYS_S = (1.0, 5.0)
#: Fetch tasks per run at most: one source per task up to this many sources, consecutive sources grouped beyond.
#: Prefect's cost per task run (~10 ms here) made a run over 500 sources that all answered 304 take 10 s.
FETCH_TASKS_PER_RUN = 40


@task(cache_policy=NO_CACHE)
def fetch_sources(
    requests: list[tuple[SourceConfig, str | None, str | None]], limits: IngestLimits,
    fetcher: SafeFetcher | None = None,
) -> list[SourceBatch]:
    """Fetch and parse a group of sources in order: (source, etag, last_modified) each; a batch per source.

    A source that fails with a transient network error is tried again after each of `FETCH_RETRY_DELAYS_S`; any
    other failure is its batch's problem, and the group's other sources go on.

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
        if delay is None or not _is_transient(batch):
            return batch
        log.warning("source %s: %s; trying again in %g s (try %d)", source.id, batch.problems[0].reason, delay,
                    attempt + 1)
        time.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns on its last try


def _fetch_groups(sources: list[SourceConfig]) -> list[list[SourceConfig]]:
    """Consecutive sources, at most `FETCH_TASKS_PER_RUN` groups (one source each when there are fewer)."""
    size = max(1, -(-len(sources) // FETCH_TASKS_PER_RUN))
    return [sources[i : i + size] for i in range(0, len(sources), size)]


class ClassifierMismatch(RuntimeError):
    """A task runner's worker has another classifier (codebook, heads or encoder) than the flow."""


@task(cache_policy=NO_CACHE)
def analyse_batch(
    texts: list[str], expected_tag: str | None = None, heads_path: str | None = None,
) -> tuple[list[LanguageResult], list[Classification]]:
    """Detect language and classify narratives for one batch of texts (with the flow's classifier, checked)."""
    from pmon.classifiers.langid import detect_document
    from pmon.classifiers.narratives import load_classifier

    classifier = load_classifier(heads_path=heads_path)
    if expected_tag is not None and classifier.version_tag != expected_tag:
        # On a Dask cluster each worker loads its own classifier from its own files and environment: a worker
        # that differs would store detections under the flow's tag that the flow's classifier never made.
        raise ClassifierMismatch(
            f"worker classifier {classifier.version_tag} differs from the flow's {expected_tag}: give every worker "
            "the same codebook, trained heads (PMON_NARRATIVE_HEADS) and encoder"
        )
    languages = [detect_document(text) for text in texts]
    classifications = classifier.classify(texts, [lr.lang for lr in languages])
    return languages, classifications


@dataclass
class RunSummary:
    """What a run did; printed by the CLI and stored as the run record."""

    run_id: str
    status: str = "completed"
    documents_new: int = 0
    detections_new: int = 0
    reclassified: int = 0
    quarantined: int = 0
    alerts_new: int = 0
    sources: list[SourceRunStats] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        """The run record stored in the warehouse."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "documents_new": self.documents_new,
            "detections_new": self.detections_new,
            "quarantined": self.quarantined,
            "alerts_new": self.alerts_new,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "sources": [s.model_dump() for s in self.sources],
            "errors": self.errors,
        }


class _Timer:
    def __init__(self, summary: RunSummary, stage: str) -> None:
        self.summary, self.stage = summary, stage

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.started
        self.summary.stage_seconds[self.stage] = self.summary.stage_seconds.get(self.stage, 0.0) + elapsed


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@dataclass
class _Doc:
    """A new item on its way to the warehouse, with its id and content hash computed once."""

    item: RawItem
    id: str
    hash: str


@dataclass
class _FetchRecord:
    """What is kept of a source's fetch until the end of the run: enough to save its conditional-GET state."""

    source_id: str
    etag: str | None
    last_modified: str | None
    not_modified: bool
    complete: bool
    newest_published_at: datetime | None


def _short_gil_slices(function: Any) -> Any:
    """Run `function` with the GIL switch interval at most `GIL_SWITCH_INTERVAL_S`, restored afterwards."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = sys.getswitchinterval()
        sys.setswitchinterval(min(previous, GIL_SWITCH_INTERVAL_S))
        try:
            return function(*args, **kwargs)
        finally:
            sys.setswitchinterval(previous)

    return wrapper


@flow(name="monitor", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=4))
@_short_gil_slices
def monitor(
    sources_path: str,
    db_path: str = "data/pmon.duckdb",
    only: list[str] | None = None,
    group: str | None = None,
    batch_size: int = BATCH_SIZE,
    wait_seconds: float = 600.0,
    limits: IngestLimits | None = None,
    progress: bool = False,
) -> RunSummary:
    """Run one monitoring pass over the sources file into the warehouse.

    Args:
        sources_path: the sources YAML file.
        db_path: the DuckDB warehouse file (created and migrated as needed).
        only: source ids to run (default: all enabled sources).
        group: run only the sources of this group (what a scheduled deployment passes).
        batch_size: documents per language/narrative batch.
        wait_seconds: how long to wait for another run that holds the warehouse.
        limits: ingestion limits (default: from PMON_INGEST_* environment variables).
        progress: show rich progress bars (the CLI turns this on).
    """
    from pmon.classifiers.narratives import heads_for_warehouse, load_classifier

    limits = limits or IngestLimits()
    config = load_sources(sources_path)
    sources = [
        s for s in config.sources
        if s.enabled and (only is None or s.id in only) and (group is None or s.group == group)
    ]
    try:
        run_id = str(get_run_context().flow_run.id)
    except Exception:  # noqa: BLE001 - called outside Prefect (e.g. `.fn` in tests)
        run_id = str(uuid.uuid4())
    summary = RunSummary(run_id=run_id)
    bar = _Progress(progress)
    warehouse = Warehouse.open(db_path, wait_seconds=wait_seconds, purpose=f"monitor run {run_id}")
    try:
        warehouse.start_run(run_id, "monitor")
        warehouse.upsert_sources(sources)
        # Heads that `pmon train --db` retrained with this warehouse's analyst labels, unless the environment
        # names others; heads trained on an older codebook are refused (say so, and go on with the codebook's).
        heads = heads_for_warehouse(db_path)
        try:
            classifier = load_classifier(heads_path=heads)
        except ValueError as exc:
            summary.errors.append(f"trained heads not used: {exc}")
            heads = None
            classifier = load_classifier()
        tag = classifier.version_tag
        heads_arg = str(heads) if heads else None

        # Documents stored by an earlier run that died before classifying them, or classified by an older model.
        with _Timer(summary, "reclassify"):
            leftovers = warehouse.unclassified(tag)
            for chunk in _chunks(leftovers, batch_size):  # type: ignore[arg-type]
                texts = [RawItem(source_id=d["source_id"], title=d["title"], text=d["text"]).full_text for d in chunk]
                _, classifications = analyse_batch.fn(texts, heads_path=heads_arg)
                summary.detections_new += warehouse.replace_classifications(
                    [d["id"] for d in chunk], classifications, run_id, tag
                )
                summary.reclassified += len(chunk)
                crash_point("reclassified")

        pipeline = _Pipeline(warehouse, summary, run_id, tag, batch_size, bar, heads_arg)
        fetcher = SafeFetcher(limits)  # one per run: its clients and TLS context serve every source
        try:
            states = warehouse.fetch_states([s.id for s in sources])  # one query, not one per source
            queue = deque(_fetch_groups(sources))
            fetching: deque[tuple[list[SourceConfig], Any]] = deque()
            while queue or fetching:
                ahead = FETCH_AHEAD_ANALYSING if pipeline.in_flight else FETCH_AHEAD_IDLE
                with _Timer(summary, "fetch"):  # submitting (Prefect's task-run cost) and waiting for fetches
                    while queue and len(fetching) < ahead:
                        group = queue.popleft()
                        requests = [(s, *states.get(s.id, (None, None))) for s in group]
                        fetching.append((group, fetch_sources.submit(requests, limits, fetcher)))
                    # Taken in the sources' order (the next ones are fetched meanwhile), so that the documents form
                    # the same analysis batches on every run of the same input.
                    group, future = fetching.popleft()
                    batches = _fetched(group, future)
                del future
                crash_point("fetched")
                while batches:
                    batch = batches.pop(0)  # each source's batch is dropped once deduped: none kept for the run
                    with _Timer(summary, "dedupe"):
                        fresh = _dedupe(warehouse, summary, batch, limits, run_id, pipeline.records)
                        crash_point("dedupe")
                    del batch
                    with _Timer(summary, "analyse+store"):
                        pipeline.add(fresh)
            with _Timer(summary, "analyse+store"):
                pipeline.finish()
        finally:
            fetcher.close()
            bar.stop()

        for record in pipeline.records:
            if record.complete and not record.not_modified and record.source_id not in pipeline.unfinished:
                warehouse.save_fetch_state(record.source_id, record.etag, record.last_modified,
                                           record.newest_published_at)
                crash_point("fetch-state")

        crash_point("trends")
        with _Timer(summary, "trends"):
            refreshed = refresh_trends(warehouse.con)
        if refreshed.changed:  # nothing stored or relabelled since the last evaluation: no alert can be new
            with _Timer(summary, "alerts"):
                _evaluate_alerts(warehouse, summary, classifier)
        summary.status = "completed" if not summary.errors else "completed_with_errors"
        crash_point("finish")
        warehouse.finish_run(summary.as_record())
    except BaseException as exc:
        summary.status = "failed"
        summary.errors.append(f"{type(exc).__name__}: {exc}")
        try:
            warehouse.finish_run(summary.as_record())
        finally:
            warehouse.close()
        raise
    warehouse.close()
    return summary


def _fetched(group: list[SourceConfig], future: Any) -> list[SourceBatch]:
    """The group's batches; a task that failed outright gives each of its sources a batch with the problem."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - broken sources never stop the run
        failed = []
        for source in group:
            batch = SourceBatch(source_id=source.id)
            batch.fail("fetch", f"{type(exc).__name__}: {exc}", location=source.location)
            failed.append(batch)
        return failed


def _dedupe(
    warehouse: Warehouse, summary: RunSummary, batch: SourceBatch, limits: IngestLimits, run_id: str,
    records: list[_FetchRecord],
) -> list[_Doc]:
    """The source's items not stored yet (ids computed once), its item cap applied; its problems quarantined."""
    stats = SourceRunStats(source_id=batch.source_id, fetched=len(batch.items), not_modified=batch.not_modified)
    docs: dict[str, _Doc] = {}  # ids carry the source: duplicates can only be within this batch
    newest: datetime | None = None
    now = utcnow()
    for item in batch.items:
        doc_id, text_hash = identity(item.source_id, item.full_text)
        docs.setdefault(doc_id, _Doc(item, doc_id, text_hash))
        published = _naive(item.published_at) or now  # as stored: an item without a date is dated when stored
        newest = published if newest is None or published > newest else newest
    stored = warehouse.existing_ids(list(docs))
    fresh = [doc for doc_id, doc in docs.items() if doc_id not in stored]
    if len(fresh) > limits.max_items_per_source:
        batch.fail("item", f"{len(fresh)} new items; {limits.max_items_per_source} taken this run, the rest next run")
        fresh = fresh[: limits.max_items_per_source]
    stats.new = len(fresh)
    stats.duplicates = len(batch.items) - len(fresh)
    stats.quarantined = len(batch.problems)
    if batch.problems:
        stats.error = batch.problems[0].reason
        summary.quarantined += warehouse.quarantine(batch.problems, run_id)
    summary.sources.append(stats)
    records.append(_FetchRecord(batch.source_id, batch.etag, batch.last_modified, batch.not_modified,
                                batch.complete, newest))
    return fresh


def _naive(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


class _Pipeline:
    """Analysis batches cut from the documents as sources deliver them; two in flight while the flow stores."""

    def __init__(self, warehouse: Warehouse, summary: RunSummary, run_id: str, tag: str, batch_size: int,
                 bar: _Progress, heads_path: str | None = None) -> None:
        self.warehouse, self.summary, self.run_id, self.tag = warehouse, summary, run_id, tag
        self.heads_path = heads_path
        self.batch_size, self.bar = batch_size, bar
        self.pending: list[_Doc] = []
        self.in_flight: deque[tuple[list[_Doc], Any]] = deque()
        self.records: list[_FetchRecord] = []
        #: Sources with a batch that could not be analysed keep their old fetch state: next run fetches again.
        self.unfinished: set[str] = set()

    def add(self, docs: list[_Doc]) -> None:
        """Queue new documents; submit every full batch."""
        if not docs:
            return
        self.bar.grow(len(docs))
        self.pending.extend(docs)
        while len(self.pending) >= self.batch_size:
            self._submit(self.pending[: self.batch_size])
            del self.pending[: self.batch_size]

    def finish(self) -> None:
        """Submit the last, partial batch and store everything in flight."""
        if self.pending:
            self._submit(self.pending)
            self.pending = []
        while self.in_flight:
            self._store(*self.in_flight.popleft())

    def _submit(self, chunk: list[_Doc]) -> None:
        self.in_flight.append((chunk, analyse_batch.submit([d.item.full_text for d in chunk], self.tag, self.heads_path)))
        if len(self.in_flight) >= 2:
            self._store(*self.in_flight.popleft())

    def _store(self, chunk: list[_Doc], future: Any) -> None:
        warehouse, summary = self.warehouse, self.summary
        try:
            languages, classifications = future.result()
        except Exception as exc:  # noqa: BLE001 - a failing batch is recorded; its documents are retried next run
            self.unfinished.update(d.item.source_id for d in chunk)
            summary.errors.append(f"analysis of {len(chunk)} documents failed: {type(exc).__name__}: {exc}")
            from pmon.schemas.documents import QuarantinedItem

            summary.quarantined += warehouse.quarantine(
                [QuarantinedItem(source_id=d.item.source_id, stage="classify", reason=str(exc)[:500],
                                 location=d.item.url, payload=d.item.full_text[:2000]) for d in chunk],
                self.run_id,
            )
            return
        stored = warehouse.store_batch([d.item for d in chunk], languages, classifications, self.run_id, self.tag,
                                       ids=[d.id for d in chunk], hashes=[d.hash for d in chunk],
                                       known_new=True)  # looked up in dedupe, under this run's writer lock
        crash_point("stored")
        summary.documents_new += stored.documents
        summary.detections_new += stored.detections
        self.bar.advance(len(chunk))


def _evaluate_alerts(warehouse: Warehouse, summary: RunSummary, classifier: Any) -> None:
    """Run the alert rules on the refreshed aggregates; a failure is logged and recorded, never fatal to the run."""
    try:
        from pmon.alerts.rules import evaluate_alerts

        summary.alerts_new = len(evaluate_alerts(warehouse.con, encoder=getattr(classifier, "encoder", None)))
    except Exception as exc:  # noqa: BLE001 - alerts must never cost the run its documents
        try:
            warehouse.con.execute("ROLLBACK")  # in case the rules failed inside their transaction
        except Exception:  # noqa: BLE001, S110 - no transaction was open
            pass
        message = f"alerts: {type(exc).__name__}: {str(exc)[:500]}"
        summary.errors.append(message)
        log.warning("alert evaluation failed (the run's documents are stored): %s", message)
        try:
            from prefect import get_run_logger

            get_run_logger().warning("alert evaluation failed (the run's documents are stored): %s", message)
        except Exception:  # noqa: BLE001, S110 - outside a Prefect run
            pass


class _Progress:
    """A rich progress bar over documents analysed, when asked for."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None

    def grow(self, n: int) -> None:
        """More documents to analyse (the total grows as sources are fetched); starts the bar at the first."""
        if not self.enabled or n == 0:
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]analysing"), BarColumn(), MofNCompleteColumn(), TextColumn("documents"),
                TimeRemainingColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task("analyse", total=0)
            self._total = 0
        self._total += n
        self._progress.update(self._task, total=self._total)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def dask_task_runner(address: str | None = None, workers: int = 2) -> Any:
    """A prefect-dask task runner: on the cluster at `address`, or on a local cluster of `workers` processes."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "dashboard_address": ":0", "processes": True}
    )


def run_monitor(
    sources_path: str | Path, db_path: str | Path, *, task_runner: Any | None = None, **kwargs: Any
) -> RunSummary:
    """Run the monitor flow (ephemeral Prefect; no server needed), optionally on another task runner."""
    flow_to_run = monitor.with_options(task_runner=task_runner) if task_runner is not None else monitor
    return flow_to_run(str(sources_path), str(db_path), **kwargs)
