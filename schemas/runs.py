"""Run records: one per monitoring run."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SourceRunStats(BaseModel):
    """What one source gave in one run."""

    source_id: str
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    not_modified: bool = False
    error: str | None = None


class RunRecord(BaseModel):
    """Counts, durations and errors of one run of the monitor flow."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    sources: list[SourceRunStats] = Field(default_factory=list)
    documents_new: int = 0
    detections_new: int = 0
    quarantined: int = 0
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
