"""Session fixtures of the reliability tests: a small corpus served on 127.0.0.1, its clean-run warehouse,
and an environment for `pmon run` subprocesses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.reliability.corpus import Corpus, snapshot, write_corpus


@dataclass(frozen=True)
class Served:
    """The corpus and where its media are served."""

    corpus: Corpus
    base_url: str


@pytest.fixture(scope="session")
def pinned_codebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the codebook taken once: every run of a test session classifies with the same one, even while
    the codebook's files are being edited (its fingerprint is part of every detection's version tag)."""
    import shutil

    from pmon.schemas.codebook import DEFAULT_CODEBOOK

    target = tmp_path_factory.mktemp("codebook") / "iskp"
    shutil.copytree(DEFAULT_CODEBOOK, target)
    os.environ["PMON_CODEBOOK"] = str(target)  # for the session fixtures below, set up before any test's own
    return target


@pytest.fixture(autouse=True)
def _use_pinned_codebook(pinned_codebook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reliability test (and the Dask workers it starts) uses the pinned codebook."""
    monkeypatch.setenv("PMON_CODEBOOK", str(pinned_codebook))


@pytest.fixture(scope="session")
def served_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The reliability corpus (about 165 documents in four sources), its feed served on 127.0.0.1."""
    from pmon.ingestion.local_server import serve_directory

    root = tmp_path_factory.mktemp("reliability-corpus")
    (root / "media").mkdir()
    with serve_directory(root / "media") as base_url:
        corpus = write_corpus(root, base_url, today=datetime.now(UTC).date())
        yield Served(corpus, base_url)


@pytest.fixture(scope="session")
def clean_run(
    served_corpus: Served, pinned_codebook: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[tuple[object, ...]]]:
    """What one uninterrupted run of the monitor flow (default task runner, in this process) stores."""
    from pmon.flows.monitor import run_monitor

    db = tmp_path_factory.mktemp("clean-run") / "clean.duckdb"
    summary = run_monitor(served_corpus.corpus.sources, db)
    assert summary.status == "completed", summary.errors
    contents = snapshot(db)
    assert len(contents["documents"]) == served_corpus.corpus.documents and contents["detections"]
    return contents


@pytest.fixture(scope="session")
def run_env(pinned_codebook: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for `pmon run` subprocesses: their own Prefect home, the pinned codebook, offline, quiet."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PMON_INGEST_", "PMON_TEST_"))}
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_HOME=str(tmp_path_factory.mktemp("subprocess-prefect")), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        PREFECT_LOGGING_LEVEL="ERROR", PYTHONUNBUFFERED="1", PMON_CODEBOOK=str(pinned_codebook),
    )
    return env


def db_path(tmp_path: Path, name: str) -> Path:
    """A warehouse path in a test's folder."""
    return tmp_path / f"{name}.duckdb"
