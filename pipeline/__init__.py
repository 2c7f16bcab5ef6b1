"""The monitoring pipeline as plain Python: fetch → dedupe → analyse → store → trends → alerts.

This is where a fetched item becomes a warehouse row (`run.run_pipeline` → `AnalysisBatches._store` →
`Warehouse.store_batch`). Nothing here imports Prefect: `pmon.flows.monitor` wraps these functions as tasks and
owns the task runner, while tests and scripts can call `run_pipeline` directly, on plain threads.
"""

from pmon.pipeline.run import RunSummary, run_pipeline
from pmon.pipeline.steps import ClassifierMismatch, analyse_batch, dedupe, fetch_groups, fetch_sources

__all__ = [
    "ClassifierMismatch",
    "RunSummary",
    "analyse_batch",
    "dedupe",
    "fetch_groups",
    "fetch_sources",
    "run_pipeline",
]
