"""The `monitor` flow: ingest due sources → dedupe → detect language → classify narratives → store → refresh trends.

Fetching and per-batch language/narrative work are Prefect tasks, so they run on whichever task runner the flow
is given (threads by default, a Dask cluster for scale-out); the warehouse is written only from the flow itself,
one transaction per batch, which keeps a single writer and makes a killed run safe to re-run.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows import settings as _settings  # noqa: F401 - before prefect
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.task_runners import ThreadPoolTaskRunner

from ingestion import IngestLimits, SafeFetcher, SourceBatch, read_source
from schemas.detections import Classification
from schemas.documents import RawItem
from schemas.language import LanguageResult
from schemas.runs import SourceRunStats
from schemas.sources import SourceConfig, load_sources
from warehouse import Warehouse, refresh_trends
from warehouse.store import crash_point

BATCH_SIZE = 128


class TransientFetchError(Exception):
    """A fetch that may succeed if tried again (timeouts, connection errors, HTTP 5xx)."""

    def __init__(self, batch: SourceBatch) -> None:
        super().__init__(batch)  # the batch is the only argument, so the error pickles to Dask workers and back
        self.batch = batch

    def __str__(self) -> str:
        return self.batch.problems[0].reason if self.batch.problems else "fetch failed"


def _is_transient(batch: SourceBatch) -> bool:
    if batch.items or not batch.problems or batch.problems[0].stage != "fetch":
        return False
    reason = batch.problems[0].reason
    return any(marker in reason for marker in ("timed out", "ConnectError", "ReadError", "HTTP 5", "RemoteProtocolError"))


def _retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except TransientFetchError:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


@task(retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_retry_transient, cache_policy=NO_CACHE)
def fetch_source(
    source: SourceConfig, etag: str | None, last_modified: str | None, limits: IngestLimits
) -> SourceBatch:
    """Fetch and parse one source (retried on transient network errors only)."""
    with SafeFetcher(limits) as fetcher:
        batch = read_source(source, fetcher, etag, last_modified)
    if _is_transient(batch):
        raise TransientFetchError(batch)
    return batch


class ClassifierMismatch(RuntimeError):
    """A task runner's worker has another classifier (codebook, heads or encoder) than the flow."""


@task(cache_policy=NO_CACHE)
def analyse_batch(texts: list[str], expected_tag: str | None = None) -> tuple[list[LanguageResult], list[Classification]]:
    """Detect language and classify narratives for one batch of texts (with the flow's classifier, checked)."""
    from classifiers.langid import detect_document
    from classifiers.narratives import load_classifier

    classifier = load_classifier()
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


def _chunks(items: Sequence[RawItem], size: int) -> Iterator[list[RawItem]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@flow(name="monitor", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=4))
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
    from classifiers.narratives import load_classifier

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
        classifier = load_classifier()
        tag = classifier.version_tag

        # Documents stored by an earlier run that died before classifying them, or classified by an older model.
        with _Timer(summary, "reclassify"):
            leftovers = warehouse.unclassified(tag)
            for chunk in _chunks(leftovers, batch_size):  # type: ignore[arg-type]
                texts = [RawItem(source_id=d["source_id"], title=d["title"], text=d["text"]).full_text for d in chunk]
                _, classifications = analyse_batch.fn(texts)
                summary.detections_new += warehouse.replace_classifications(
                    [d["id"] for d in chunk], classifications, run_id, tag
                )
                summary.reclassified += len(chunk)
                crash_point("reclassified")

        with _Timer(summary, "fetch"):
            futures = [fetch_source.submit(s, *warehouse.fetch_state(s.id), limits) for s in sources]
            batches: list[SourceBatch] = []
            for source, future in zip(sources, futures, strict=True):
                try:
                    batches.append(future.result())
                except TransientFetchError as exc:
                    batches.append(exc.batch)
                except Exception as exc:  # noqa: BLE001 - one broken source never stops the run
                    failed = SourceBatch(source_id=source.id)
                    failed.fail("fetch", f"{type(exc).__name__}: {exc}", location=source.location)
                    batches.append(failed)
                crash_point("fetched")

        # Dedupe against the warehouse and within this run, apply the per-source item cap.
        with _Timer(summary, "dedupe"):
            work: list[RawItem] = []
            seen: set[str] = set()
            for batch in batches:
                stats = SourceRunStats(source_id=batch.source_id, fetched=len(batch.items), not_modified=batch.not_modified)
                fresh = [item for item in batch.items if item.id not in seen]
                seen.update(item.id for item in fresh)
                stored = warehouse.existing_ids([item.id for item in fresh])
                fresh = [item for item in fresh if item.id not in stored]
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
                work.extend(fresh)
                crash_point("dedupe")

        # Analyse in batches on the task runner, keeping a few batches in flight while the flow stores.
        with _Timer(summary, "analyse+store"):
            chunks = list(_chunks(work, batch_size))
            bar.start(len(work))
            in_flight: deque[tuple[list[RawItem], Any]] = deque()
            # Sources with a batch that could not be analysed keep their old fetch state: next run fetches again.
            unfinished: set[str] = set()
            for chunk in chunks:
                in_flight.append((chunk, analyse_batch.submit([item.full_text for item in chunk], tag)))
                if len(in_flight) >= 2:
                    _store(warehouse, summary, *in_flight.popleft(), run_id, tag, bar, unfinished)
            while in_flight:
                _store(warehouse, summary, *in_flight.popleft(), run_id, tag, bar, unfinished)
            bar.stop()

        for batch in batches:
            if batch.complete and not batch.not_modified and batch.source_id not in unfinished:
                warehouse.save_fetch_state(batch.source_id, batch.etag, batch.last_modified)
                crash_point("fetch-state")

        crash_point("trends")
        with _Timer(summary, "trends"):
            refresh_trends(warehouse.con)
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


def _store(
    warehouse: Warehouse, summary: RunSummary, chunk: list[RawItem], future: Any, run_id: str, tag: str, bar: _Progress,
    unfinished: set[str],
) -> None:
    try:
        languages, classifications = future.result()
    except Exception as exc:  # noqa: BLE001 - a failing batch is recorded; its documents are retried next run
        unfinished.update(item.source_id for item in chunk)
        summary.errors.append(f"analysis of {len(chunk)} documents failed: {type(exc).__name__}: {exc}")
        from schemas.documents import QuarantinedItem

        summary.quarantined += warehouse.quarantine(
            [QuarantinedItem(source_id=i.source_id, stage="classify", reason=str(exc)[:500], location=i.url,
                             payload=i.full_text[:2000]) for i in chunk],
            run_id,
        )
        return
    stored = warehouse.store_batch(chunk, languages, classifications, run_id, tag)
    crash_point("stored")
    summary.documents_new += stored.documents
    summary.detections_new += stored.detections
    bar.advance(len(chunk))


class _Progress:
    """A rich progress bar over documents analysed, when asked for."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None

    def start(self, total: int) -> None:
        if not self.enabled or total == 0:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]analysing"), BarColumn(), MofNCompleteColumn(), TextColumn("documents"),
            TimeRemainingColumn(),
        )
        self._progress.start()
        self._task = self._progress.add_task("analyse", total=total)

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
