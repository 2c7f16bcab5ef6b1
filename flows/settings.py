"""Prefect, quiet and hermetic: no telemetry, its home under pmon's data directory, tolerant start-up.

Imported before Prefect by everything in flows/, so these defaults apply unless the user set them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pmon.settings import settings


def configure_prefect(data_dir: str | Path | None = None) -> None:
    """Set Prefect's environment defaults (an explicit user setting always wins)."""
    data_dir = Path(data_dir or settings().data_dir).resolve()
    defaults = {
        "PREFECT_HOME": str(data_dir / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        # Results stay in memory: our tasks return data the warehouse stores, Prefect need not persist it.
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Prefect's SQLite database cannot be created in a folder that does not exist yet.
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)


configure_prefect()
