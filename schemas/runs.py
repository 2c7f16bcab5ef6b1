"""Run records: one per monitoring run."""

from __future__ import annotations

from pydantic import BaseModel


class SourceRunStats(BaseModel):
    """What one source gave in one run."""

    source_id: str
    fetched: int = 0
    new: int = 0
    #: Items already stored (or repeated within the fetch): dropped before any model runs.
    duplicates: int = 0
    #: New items over the per-source cap (`PMON_INGEST_MAX_ITEMS_PER_SOURCE`), taken on the next run.
    held_back: int = 0
    quarantined: int = 0
    not_modified: bool = False
    error: str | None = None
