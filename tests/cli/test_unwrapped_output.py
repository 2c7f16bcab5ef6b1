"""#14: off a terminal (cron, logs, pipes) no output line is wrapped at 80 columns: ids and paths stay whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LONG_ID = "a-very-long-source-id." + "x" * 42  # 64 characters, the longest id allowed


def _pmon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(  # noqa: S603 - our interpreter, our CLI
        [sys.executable, "-m", "pmon.cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )


def test_piped_output_keeps_long_ids_and_paths_on_one_line(tmp_path: Path) -> None:
    folder = tmp_path / ("deeply-nested-operator-folder-" * 3) / "sources"
    folder.mkdir(parents=True)
    drop = folder / "drops" / "a-long-drop-file-name-that-an-operator-greps-for.jsonl"
    drop.parent.mkdir()
    drop.write_text('{"id": "1", "text": "hello"}\n', encoding="utf-8")
    config = folder / "sources.yaml"
    config.write_text(f"sources:\n  - {{id: {LONG_ID}, kind: jsonl, location: drops/{drop.name}}}\n", encoding="utf-8")
    assert len(str(drop)) > 120

    listed = _pmon("sources", "list", "--config", str(config), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line for line in listed.stdout.splitlines() if LONG_ID in line and str(drop) in line], listed.stdout

    validated = _pmon("sources", "validate", "--config", str(config), cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert f"ok: 1 sources in {config}" in validated.stdout.splitlines(), validated.stdout


def test_an_explicit_columns_is_still_honoured(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - {{id: {LONG_ID}, kind: feed, location: 'https://x.example/{'p' * 90}'}}\n",
                      encoding="utf-8")
    env = {**os.environ, "COLUMNS": "60"}
    listed = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pmon.cli.main", "sources", "list", "--config", str(config)], env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert max(len(line) for line in listed.stdout.splitlines()) <= 60, listed.stdout
