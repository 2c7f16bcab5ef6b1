"""The plain pipeline runs without Prefect: a drop file in, rows in the warehouse, nothing new on a re-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pmon.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[2]

_RUN = """
import json, sys
from pmon.pipeline import run_pipeline
summary = run_pipeline(sys.argv[1], sys.argv[2])
print(json.dumps({"new": summary.documents_new, "status": summary.status,
                  "sources": [s.model_dump() for s in summary.sources],
                  "prefect_loaded": any(m == "prefect" or m.startswith("prefect.") for m in sys.modules)}))
"""


@pytest.mark.slow
def test_run_pipeline_stores_documents_without_prefect(tmp_path: Path) -> None:
    drop = tmp_path / "drop.jsonl"
    drop.write_text("".join(json.dumps({"id": f"n{i}", "text": text}) + "\n" for i, text in enumerate([
        "The city council opened a new library branch on Monday.",
        "Шаҳрдорӣ дар маркази шаҳр боғи нав бунёд кард.",
        "Tuman hokimligi yangi maktab qurilishini boshladi.",
    ])), encoding="utf-8")
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - {id: drop, kind: jsonl, location: drop.jsonl}\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"

    def run() -> dict:
        done = subprocess.run([sys.executable, "-c", _RUN, str(tmp_path / "sources.yaml"), str(db)],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path, env=os.environ.copy())
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run()
    assert first["prefect_loaded"] is False
    assert first["status"] == "completed" and first["new"] == 3
    second = run()  # re-running is safe: everything is a duplicate now
    assert second["new"] == 0 and second["sources"][0]["duplicates"] == 3
    with Warehouse.open(db, read_only=True) as wh:
        langs = sorted(row[0] for row in wh.con.execute("SELECT lang FROM documents").fetchall())
        runs = wh.con.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchall()[0][0]
    assert langs == ["en", "tg", "uz"] and runs == 2
