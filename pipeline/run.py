"""One monitoring pass over a sources file into the warehouse, as plain Python.

The run streams: sources are fetched a few ahead (one per task, or consecutive sources grouped into at most
`FETCH_TASKS_PER_RUN` tasks when there are many), each source is deduped as soon as its fetch is taken (in the
sources' order, so the same input makes the same batches), and its new documents join the analysis batches at
once, so fetching and parsing overlap the encoder and no list holds every item of the run (only the batches
being analysed and a small record per source). The warehouse is written only from the calling thread, one
transaction per batch, which keeps a single writer and makes a killed run safe to re-run.

Fetching and analysis go through two `submit` callables (`submit(*args) -> future with .result()`): Prefect's
`task.submit` under the `monitor` flow, a thread pool here when none is given.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pmon.ingestion import IngestLimits, SafeFetcher, SourceBatch
from pmon.pipeline.steps import (
    FetchRecord,
    NewDocument,
    analyse_batch,
    dedupe,
    fetch_groups,
    fetch_sources,
)
from pmon.schemas.detections import Classification
from pmon.schemas.documents import QuarantinedItem, RawItem
from pmon.schemas.language import LanguageResult
from pmon.schemas.runs import SourceRunStats
from pmon.schemas.sources import SourceConfig, load_sources
from pmon.warehouse import Warehouse, refresh_trends
from pmon.warehouse.store import crash_point
from pmon.warehouse.transactions import rollback_if_open

BATCH_SIZE = 128
#: Fetch tasks kept running ahead of the analysis: few while analysis batches are in flight, so that a batch
#: submitted to the task runner never queues behind fetches, more when the run only waits on fetches.
FETCH_AHEAD_ANALYSING = 2
FETCH_AHEAD_IDLE = 4

log = logging.getLogger(__name__)


class Future(Protocol):
    """What `submit` returns: Prefect's task futures and `concurrent.futures.Future` alike."""

    def result(self) -> Any: ...


#: `submit(*args)` runs a step (fetch_sources or analyse_batch) somewhere and returns its future.
Submit = Callable[..., Future]


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

    def stage(self, name: str) -> _StageTimer:
        """`with summary.stage("fetch"): ...` adds the block's wall seconds to that stage."""
        return _StageTimer(self, name)


class _StageTimer:
    def __init__(self, summary: RunSummary, stage: str) -> None:
        self.summary, self.name = summary, stage

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self.started
        self.summary.stage_seconds[self.name] = self.summary.stage_seconds.get(self.name, 0.0) + elapsed


def run_pipeline(
    sources_path: str | Path,
    db_path: str | Path,
    *,
    run_id: str | None = None,
    only: list[str] | None = None,
    group: str | None = None,
    batch_size: int = BATCH_SIZE,
    wait_seconds: float = 600.0,
    limits: IngestLimits | None = None,
    progress: bool = False,
    submit_fetch: Submit | None = None,
    submit_analysis: Submit | None = None,
) -> RunSummary:
    """Run one monitoring pass over the sources file into the warehouse.

    Args:
        sources_path: the sources YAML file.
        db_path: the DuckDB warehouse file (created and migrated as needed).
        run_id: the run's id (the Prefect flow run's, under the flow); None: a new UUID.
        only: source ids to run (default: all enabled sources).
        group: run only the sources of this group (what a scheduled deployment passes).
        batch_size: documents per language/narrative batch.
        wait_seconds: how long to wait for another run that holds the warehouse.
        limits: ingestion limits (default: from PMON_INGEST_* environment variables).
        progress: show a progress bar over the documents analysed (the CLI turns this on).
        submit_fetch: runs `fetch_sources(requests, limits, fetcher)`; None: a thread pool of this call.
        submit_analysis: runs `analyse_batch(texts, tag, heads_path)`; None: the same thread pool.
    """
    if submit_fetch is None or submit_analysis is None:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="pmon-pipeline") as pool:
            return run_pipeline(
                sources_path, db_path, run_id=run_id, only=only, group=group, batch_size=batch_size,
                wait_seconds=wait_seconds, limits=limits, progress=progress,
                submit_fetch=submit_fetch or (lambda *a: pool.submit(fetch_sources, *a)),
                submit_analysis=submit_analysis or (lambda *a: pool.submit(analyse_batch, *a)),
            )
    from pmon.classifiers.narratives import heads_for_warehouse, load_classifier

    limits = limits or IngestLimits()
    config = load_sources(sources_path)
    sources = [
        s for s in config.sources
        if s.enabled and (only is None or s.id in only) and (group is None or s.group == group)
    ]
    summary = RunSummary(run_id=run_id or str(uuid.uuid4()))
    bar = _Progress(progress)
    warehouse = Warehouse.open(db_path, wait_seconds=wait_seconds, purpose=f"monitor run {summary.run_id}")
    try:
        warehouse.start_run(summary.run_id, "monitor")
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

        with summary.stage("reclassify"):
            _reclassify(warehouse, summary, tag, heads_arg, batch_size)

        batches = AnalysisBatches(warehouse, summary, tag, batch_size, bar, submit_analysis, heads_arg)
        fetcher = SafeFetcher(limits)  # one per run: its clients and TLS context serve every source
        try:
            _fetch_and_analyse(warehouse, summary, sources, limits, fetcher, submit_fetch, batches)
            with summary.stage("analyse+store"):
                batches.finish()
        finally:
            fetcher.close()
            bar.stop()

        for record in batches.records:
            if record.complete and not record.not_modified and record.source_id not in batches.unfinished:
                warehouse.save_fetch_state(record.source_id, record.etag, record.last_modified,
                                           record.newest_published_at)
                crash_point("fetch-state")

        crash_point("trends")
        with summary.stage("trends"):
            refreshed = refresh_trends(warehouse.con)
        with summary.stage("links"):
            _link_messages(warehouse, summary, classifier)
        if refreshed.changed:  # nothing stored or relabelled since the last evaluation: no alert can be new
            with summary.stage("alerts"):
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


def _reclassify(warehouse: Warehouse, summary: RunSummary, tag: str, heads_path: str | None, batch_size: int) -> None:
    """Documents stored by an earlier run that died before classifying them, or classified by an older model."""
    leftovers = warehouse.unclassified(tag)
    for chunk in _chunks(leftovers, batch_size):
        texts = [RawItem(source_id=d["source_id"], title=d["title"], text=d["text"]).full_text for d in chunk]
        _, classifications = analyse_batch(texts, heads_path=heads_path)
        summary.detections_new += warehouse.replace_classifications(
            [d["id"] for d in chunk], classifications, summary.run_id, tag
        )
        summary.reclassified += len(chunk)
        crash_point("reclassified")


def _fetch_and_analyse(
    warehouse: Warehouse, summary: RunSummary, sources: list[SourceConfig], limits: IngestLimits,
    fetcher: SafeFetcher, submit_fetch: Submit, batches: AnalysisBatches,
) -> None:
    """Fetch the sources a few ahead, dedupe each as it is taken, feed its new documents to the analysis."""
    states = warehouse.fetch_states([s.id for s in sources])  # one query, not one per source
    queue = deque(fetch_groups(sources))
    fetching: deque[tuple[list[SourceConfig], Future]] = deque()
    while queue or fetching:
        ahead = FETCH_AHEAD_ANALYSING if batches.in_flight else FETCH_AHEAD_IDLE
        with summary.stage("fetch"):  # submitting (a task runner's cost) and waiting for fetches
            while queue and len(fetching) < ahead:
                group = queue.popleft()
                requests = [(s, *states.get(s.id, (None, None))) for s in group]
                fetching.append((group, submit_fetch(requests, limits, fetcher)))
            # Taken in the sources' order (the next ones are fetched meanwhile), so that the documents form
            # the same analysis batches on every run of the same input.
            group, future = fetching.popleft()
            fetched = _fetched(group, future)
        del future
        crash_point("fetched")
        while fetched:
            batch = fetched.pop(0)  # each source's batch is dropped once deduped: none kept for the run
            with summary.stage("dedupe"):
                fresh, stats, record = dedupe(warehouse, batch, limits)
                if batch.problems:
                    summary.quarantined += warehouse.quarantine(batch.problems, summary.run_id)
                summary.sources.append(stats)
                batches.records.append(record)
                crash_point("dedupe")
            del batch
            with summary.stage("analyse+store"):
                batches.add(fresh)


def _fetched(group: list[SourceConfig], future: Future) -> list[SourceBatch]:
    """The group's batches; a task that failed outright gives each of its sources a batch with the problem."""
    try:
        return list(future.result())
    except Exception as exc:  # noqa: BLE001 - broken sources never stop the run
        failed = []
        for source in group:
            batch = SourceBatch(source_id=source.id)
            batch.fail("fetch", f"{type(exc).__name__}: {exc}", location=source.location)
            failed.append(batch)
        return failed


class AnalysisBatches:
    """Analysis batches cut from the documents as sources deliver them; two in flight while the caller stores."""

    def __init__(self, warehouse: Warehouse, summary: RunSummary, tag: str, batch_size: int, bar: _Progress,
                 submit: Submit, heads_path: str | None = None) -> None:
        self.warehouse, self.summary, self.tag = warehouse, summary, tag
        self.submit, self.heads_path = submit, heads_path
        self.batch_size, self.bar = batch_size, bar
        self.pending: list[NewDocument] = []
        self.in_flight: deque[tuple[list[NewDocument], Future]] = deque()
        self.records: list[FetchRecord] = []
        #: Sources with a batch that could not be analysed keep their old fetch state: next run fetches again.
        self.unfinished: set[str] = set()

    def add(self, docs: list[NewDocument]) -> None:
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

    def _submit(self, chunk: list[NewDocument]) -> None:
        self.in_flight.append((chunk, self.submit([d.item.full_text for d in chunk], self.tag, self.heads_path)))
        if len(self.in_flight) >= 2:
            self._store(*self.in_flight.popleft())

    def _store(self, chunk: list[NewDocument], future: Future) -> None:
        """Where documents become rows: a batch with its languages and detections, in one transaction."""
        warehouse, summary = self.warehouse, self.summary
        try:
            analysed: tuple[list[LanguageResult], list[Classification]] = future.result()
        except Exception as exc:  # noqa: BLE001 - a failing batch is recorded; its documents are retried next run
            self.unfinished.update(d.item.source_id for d in chunk)
            summary.errors.append(f"analysis of {len(chunk)} documents failed: {type(exc).__name__}: {exc}")
            summary.quarantined += warehouse.quarantine(
                [QuarantinedItem(source_id=d.item.source_id, stage="classify", reason=str(exc)[:500],
                                 location=d.item.url, payload=d.item.full_text[:2000]) for d in chunk],
                summary.run_id,
            )
            return
        languages, classifications = analysed
        stored = warehouse.store_batch([d.item for d in chunk], languages, classifications, summary.run_id, self.tag,
                                       ids=[d.id for d in chunk], hashes=[d.hash for d in chunk],
                                       known_new=True)  # looked up in dedupe, under this run's writer lock
        crash_point("stored")
        summary.documents_new += stored.documents
        summary.detections_new += stored.detections
        self.bar.advance(len(chunk))


def _link_messages(warehouse: Warehouse, summary: RunSummary, classifier: Any) -> None:
    """Group the new documents with their translations and reposts (`pmon.warehouse.links`); a failure is recorded,
    never fatal to the run (the documents are stored; the next run links what this one could not)."""
    from pmon.warehouse.links import update_message_links

    try:
        update_message_links(warehouse, classifier.embed, classifier.encoder.name, run_id=summary.run_id)
    except Exception as exc:  # noqa: BLE001 - links must never cost the run its documents
        rollback_if_open(warehouse.con)
        message = f"links: {type(exc).__name__}: {str(exc)[:500]}"
        summary.errors.append(message)
        log.warning("message linking failed (the run's documents are stored): %s", message)


def _evaluate_alerts(warehouse: Warehouse, summary: RunSummary, classifier: Any) -> None:
    """Run the alert rules on the refreshed aggregates; a failure is logged and recorded, never fatal to the run."""
    from pmon.alerts.rules import evaluate_alerts

    try:
        summary.alerts_new = len(evaluate_alerts(warehouse.con, encoder=getattr(classifier, "encoder", None)))
    except Exception as exc:  # noqa: BLE001 - alerts must never cost the run its documents
        rollback_if_open(warehouse.con)  # in case the rules failed inside their transaction
        message = f"alerts: {type(exc).__name__}: {str(exc)[:500]}"
        summary.errors.append(message)
        log.warning("alert evaluation failed (the run's documents are stored): %s", message)


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


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
