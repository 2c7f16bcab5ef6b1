"""The `monitor` flow: the plain pipeline (`pmon.pipeline`) run with Prefect.

The flow owns what orchestration is for: the task runner (threads by default, a Dask cluster for scale-out),
the tasks that fetch sources and analyse batches on it, the run's id (the flow run's) and its short GIL slices.
What happens to a document (dedupe, cap, batches, store, trends, alerts) is `pmon.pipeline.run_pipeline`.
Tasks are not retried by Prefect: a fetch retries transient errors itself, once, by their type
(`pmon.pipeline.steps.fetch_sources`), and a failed analysis batch is stored next run.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pmon.flows import settings as _settings  # noqa: F401 - configures Prefect before it is imported

# isort: split
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.task_runners import ThreadPoolTaskRunner

from pmon.ingestion import IngestLimits
from pmon.pipeline import RunSummary, analyse_batch, fetch_sources, run_pipeline
from pmon.pipeline.run import BATCH_SIZE
from pmon.settings import DEFAULT_DB

__all__ = ["BATCH_SIZE", "RunSummary", "dask_task_runner", "monitor", "run_monitor"]

#: The GIL's switch interval during a run (Python's default: 5 ms). The encoder's forward pass runs torch kernels
#: without the GIL but takes it back between them, hundreds of times per batch; while another thread runs Python
#: (language ID, parsing, TF-IDF, Prefect), each retake waited up to a whole interval and both cores idled.
#: Measured at 1,200 documents on 2 cores: the flow 40.1 -> 34.1 s, the encoder alone on the same calls unchanged.
GIL_SWITCH_INTERVAL_S = 0.0005

fetch_task = task(name="fetch_sources", cache_policy=NO_CACHE)(fetch_sources)
analyse_task = task(name="analyse_batch", cache_policy=NO_CACHE)(analyse_batch)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _short_gil_slices(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `function` with the GIL switch interval at most `GIL_SWITCH_INTERVAL_S`, restored afterwards."""

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        previous = sys.getswitchinterval()
        sys.setswitchinterval(min(previous, GIL_SWITCH_INTERVAL_S))
        try:
            return function(*args, **kwargs)
        finally:
            sys.setswitchinterval(previous)

    return wrapper


# Prefect types a ThreadPoolTaskRunner() as ThreadPoolTaskRunner[Never], which its own flow() does not accept.
@flow(name="monitor", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=4))  # type: ignore[arg-type]
@_short_gil_slices
def monitor(
    sources_path: str,
    db_path: str = str(DEFAULT_DB),
    only: list[str] | None = None,
    group: str | None = None,
    batch_size: int = BATCH_SIZE,
    wait_seconds: float = 600.0,
    limits: IngestLimits | None = None,
    progress: bool = False,
) -> RunSummary:
    """Run one monitoring pass over the sources file into the warehouse (see `pmon.pipeline.run_pipeline`)."""
    try:
        run_id: str | None = str(get_run_context().flow_run.id)  # type: ignore[union-attr] # a task context has none: caught
    except Exception:  # noqa: BLE001 - called outside Prefect (e.g. `.fn` in tests): a new id
        run_id = None
    return run_pipeline(
        sources_path, db_path, run_id=run_id, only=only, group=group, batch_size=batch_size,
        wait_seconds=wait_seconds, limits=limits, progress=progress,
        submit_fetch=fetch_task.submit, submit_analysis=analyse_task.submit,
    )


def dask_task_runner(address: str | None = None, workers: int = 2) -> Any:
    """A prefect-dask task runner: on the cluster at `address`, or on a local cluster of `workers` processes."""
    from prefect_dask.task_runners import DaskTaskRunner

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
    summary: RunSummary = flow_to_run(str(sources_path), str(db_path), **kwargs)
    return summary
