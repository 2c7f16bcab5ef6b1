"""The wheel: one import namespace (`pmon.*`), the data the code reads at run time inside it, and runnable from any
directory once installed into a fresh environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]

# Folders with an __init__.py that are deliberately not installed (generators that rewrite the checkout).
NOT_INSTALLED = {"pmon.codebooks.tools"}
# The project's folders: none of them may be importable at the top level of an installed environment.
GENERIC_NAMES = ["cli", "schemas", "flows", "warehouse", "ingestion", "alerts", "classifiers", "sample_media",
                 "codebooks", "eval"]
# What the code reads at run time, as paths inside the wheel.
DATA_IN_WHEEL = [
    "pmon/codebooks/iskp/codebook.yaml",
    "pmon/codebooks/iskp/exemplars/tg-cyrl.yaml",
    "pmon/eval/narratives/en-latn.jsonl",
    "pmon/alerts/templates/digest.html.j2",
    "pmon/alerts/templates/digest.md.j2",
    "pmon/sample_media/templates/rss.xml.j2",
    "pmon/warehouse/migrations/0001_init.sql",
    "pmon/classifiers/langid/profiles/tg.json",
    "pmon/classifiers/narratives/background/realtext-a.npz",
]


def test_every_package_folder_is_in_the_explicit_package_list() -> None:
    found = set()
    for name, folder in SETUPTOOLS["package-dir"].items():
        for init in (REPO / folder).rglob("__init__.py"):
            found.add(".".join([name, *init.parent.relative_to(REPO / folder).parts]))
    assert found - NOT_INSTALLED == set(SETUPTOOLS["packages"])


def test_every_package_data_pattern_matches_files() -> None:
    def folder(package: str) -> Path:
        for prefix in sorted(SETUPTOOLS["package-dir"], key=len, reverse=True):
            if package == prefix or package.startswith(prefix + "."):
                return REPO / SETUPTOOLS["package-dir"][prefix] / Path(*package[len(prefix):].split(".")[1:])
        raise AssertionError(f"{package} has no package-dir entry")

    for package, patterns in SETUPTOOLS["package-data"].items():
        for pattern in patterns:
            assert list(folder(package).glob(pattern)), f"{package}: {pattern} matches nothing"


def _run(command: list[str | Path], cwd: Path, env: dict[str, str], timeout: float, **kwargs: object) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreters and the pmon script we just installed
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **kwargs,
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_environment_and_runs_from_another_directory(tmp_path: Path) -> None:
    started = time.monotonic()
    # Build from a copy of the tree, so that setuptools' build/ and *.egg-info stay out of the checkout.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "data", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "*.duckdb*"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", dist, source],
         cwd=tmp_path, env=dict(os.environ), timeout=300)
    (wheel,) = dist.glob("pmon-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert {n.split("/")[0] for n in names} == {"pmon", wheel.name.split("-py3")[0] + ".dist-info"}
    assert not [p for p in DATA_IN_WHEEL if p not in names]

    home, cache, elsewhere, venv = tmp_path / "home", tmp_path / "cache", tmp_path / "elsewhere", tmp_path / "venv"
    for folder in (home, cache, elsewhere):
        folder.mkdir()
    # The environment the project's own set-up runs in (its pip configuration and package index), but a private
    # home and model cache, no hub, and nothing from this checkout or this virtual environment on the path.
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"} and not k.startswith("PMON_")}
    env |= {"HOME": str(home), "PMON_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "PREFECT_HOME": str(home / ".prefect")}
    try:
        _run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=env, timeout=120)
        python = venv / "bin" / "python"
        # torch first, as scripts/setup does: otherwise pip resolves a CUDA build of gigabytes.
        _run([python, "-m", "pip", "install", "--quiet", "torch==2.13.0"], cwd=elsewhere, env=env, timeout=900)
        _run([python, "-m", "pip", "install", "--quiet", wheel], cwd=elsewhere, env=env, timeout=900)
        installed = time.monotonic()

        assert "classify" in _run([venv / "bin" / "pmon", "--help"], cwd=elsewhere, env=env, timeout=120)
        line = json.dumps({"id": 1, "text": "Every true Muslim must make hijra to the caliphate now."})
        out = _run([venv / "bin" / "pmon", "classify"], cwd=elsewhere, env=env, timeout=900, input=line + "\n")
        answer = json.loads(out.strip().splitlines()[-1])
        assert answer["id"] == 1 and isinstance(answer["narratives"], list) and "stance" in answer

        where = _run([python, "-c", "import pmon.cli.main as m, pmon.schemas.codebook as c; "
                      "print(m.__file__); print(c.DEFAULT_CODEBOOK)"], cwd=elsewhere, env=env, timeout=120)
        assert all(Path(p).is_relative_to(venv) for p in where.split()), where
        generic = subprocess.run(  # noqa: S603
            [python, "-c", "import cli"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120,
        )
        assert generic.returncode != 0 and "ModuleNotFoundError" in generic.stderr, generic.stderr
        found = _run([python, "-c", f"import importlib.util; print([n for n in {GENERIC_NAMES!r} "
                      "if importlib.util.find_spec(n)])"], cwd=elsewhere, env=env, timeout=120)
        assert found.strip() == "[]"
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # about 2 GB
        shutil.rmtree(cache, ignore_errors=True)
    print(f"wheel test: built and installed in {installed - started:.0f} s, "
          f"ran in {time.monotonic() - installed:.0f} s")
