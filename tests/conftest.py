"""Shared fixtures: an isolated environment, a migrated in-memory warehouse, the fixtures folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's settings or writes outside temp dirs; nothing may reach a model hub."""
    for key in list(os.environ):
        if key.startswith("PMON_INGEST_") or key in {"PMON_DB", "PMON_CODEBOOK", "PMON_NARRATIVE_HEADS"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def memory_warehouse():
    """A migrated in-memory warehouse."""
    from warehouse import Warehouse

    wh = Warehouse.open(":memory:")
    yield wh
    wh.close()


@pytest.fixture
def fixtures() -> Path:
    """tests/fixtures."""
    return FIXTURES
