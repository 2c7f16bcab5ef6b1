"""Limits on what one source may cost a run; override with PMON_INGEST_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestLimits(BaseSettings):
    """Bounds that keep one hostile or broken source from stopping or swamping a run.

    Example:
        >>> IngestLimits(max_items_per_source=100).max_items_per_source
        100
    """

    model_config = SettingsConfigDict(env_prefix="PMON_INGEST_", extra="ignore")

    timeout_seconds: float = Field(default=20.0, gt=0, description="connect/read timeout of one HTTP request")
    max_redirects: int = Field(default=5, ge=0, le=20, description="redirect hops followed per request")
    max_response_bytes: int = Field(
        default=25_000_000, gt=0,
        description="body size cap after decompression (guards against gzip bombs); also caps local files",
    )
    max_item_chars: int = Field(default=100_000, gt=0, description="longer items go to quarantine")
    max_items_per_source: int = Field(default=5_000, gt=0, description="items taken from one source in one run")
    max_source_seconds: float = Field(
        default=120.0, gt=0, description="wall time budget for all of one source's fetches, bodies included"
    )
    allowed_private_hosts: list[str] = Field(
        default_factory=list, description="hosts allowed even though they resolve to loopback/private addresses"
    )
