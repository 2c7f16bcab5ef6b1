"""Scale-out on an existing engine: the monitor flow's per-source and per-batch tasks on a Dask cluster (through
prefect-dask, reached by its scheduler address as a remote cluster would be) store exactly what the default
in-process runner stores."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pmon.flows.monitor import dask_task_runner, run_monitor
from tests.reliability.conftest import Served
from tests.reliability.corpus import assert_same_contents, snapshot

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster() -> Iterator[object]:
    """A local Dask cluster of two worker processes, one thread each (what `pmon run --dask ADDRESS` connects to)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as running:
        yield running


def _loaded_modules() -> dict[str, bool]:
    return {name: name in sys.modules for name in ("pmon.ingestion", "pmon.classifiers.narratives")}


def test_flow_on_a_two_worker_dask_cluster_stores_what_the_default_runner_stores(
    cluster: object, served_corpus: Served, clean_run: dict, tmp_path: Path
) -> None:
    from distributed import Client

    db = tmp_path / "dask.duckdb"
    summary = run_monitor(served_corpus.corpus.sources, db, task_runner=dask_task_runner(cluster.scheduler_address))  # type: ignore[attr-defined]
    assert summary.status == "completed", summary.errors
    assert_same_contents(snapshot(db), clean_run)
    with Client(cluster.scheduler_address) as client:  # type: ignore[attr-defined]
        workers = client.run(_loaded_modules)
    # The work really went to the workers: both fetching (ingestion) and analysis (the classifier) ran there.
    assert len(workers) == 2
    assert any(loaded["pmon.ingestion"] for loaded in workers.values())
    assert any(loaded["pmon.classifiers.narratives"] for loaded in workers.values())
