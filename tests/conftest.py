"""Shared fixtures: an isolated environment, a migrated in-memory warehouse, the fixtures folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# Prefect reads its settings at import: give the whole session a private, quiet home before anything imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="pmon-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
# Models (the converted encoder, trained heads) go to a cache made for this session, not ~/.cache/pmon: the first
# test that needs them exports and trains once, the rest reuse it. A developer who wants the cache kept between
# sessions points PMON_TEST_CACHE_DIR at a folder of their choosing.
os.environ["PMON_CACHE_DIR"] = os.environ.get("PMON_TEST_CACHE_DIR") or tempfile.mkdtemp(prefix="pmon-test-cache-")


@pytest.fixture(autouse=True)
def _hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's settings or writes outside temp dirs; nothing may reach a model hub."""
    for key in list(os.environ):
        if key.startswith("PMON_INGEST_") or key in {
            "PMON_DB", "PMON_CODEBOOK", "PMON_NARRATIVE_HEADS", "PMON_ENCODER"
        }:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def memory_warehouse():
    """A migrated in-memory warehouse."""
    from pmon.warehouse import Warehouse

    wh = Warehouse.open(":memory:")
    yield wh
    wh.close()


@pytest.fixture
def fixtures() -> Path:
    """tests/fixtures."""
    return FIXTURES


@pytest.fixture(scope="session")
def demo_media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The synthetic sample media rendered and served on 127.0.0.1: (media folder, base URL)."""
    from pmon.ingestion.local_server import serve_directory
    from pmon.sample_media import render

    media = tmp_path_factory.mktemp("demo-media")
    with serve_directory(media) as base_url:
        render(media, base_url=base_url)
        yield media, base_url


@pytest.fixture(scope="session")
def demo_warehouse(demo_media: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse filled by one real `monitor` run over the demo media (the real model; about a minute)."""
    from pmon.flows.monitor import run_monitor

    media, _ = demo_media
    db = tmp_path_factory.mktemp("demo-db") / "demo.duckdb"
    summary = run_monitor(media / "sources.yaml", db)
    assert summary.status.startswith("completed"), summary.errors
    return db
