"""Rules of the layout that keep it readable: only flows/ talks to Prefect."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARY = ["alerts", "classifiers", "cli", "codebooks", "ingestion", "pipeline", "sample_media", "schemas", "warehouse"]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_library_module_imports_prefect() -> None:
    offenders = [str(path.relative_to(REPO)) for folder in LIBRARY for path in sorted((REPO / folder).rglob("*.py"))
                 if {"prefect", "prefect_dask"} & _imports(path)]
    assert offenders == []
