"""`pmon alerts` and `pmon digest` from the command line (typer's runner, the real app, a real warehouse file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pmon.cli.main import app


@pytest.fixture(autouse=True)
def _no_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMON_ALERTS_EMERGING_ENABLED", "false")  # the emerging rule has its own (slow) test


def test_alerts_json_lists_kind_narrative_lang_evidence(truth_copy: Path) -> None:
    result = CliRunner().invoke(app, ["alerts", "--db", str(truth_copy), "--since", "30d", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and rows
    for row in rows:
        assert {"kind", "narrative", "lang", "evidence", "summary", "window_start", "window_end"} <= set(row)
        assert isinstance(row["evidence"], list)
    spike = next(r for r in rows if r["kind"] == "spike")
    assert (spike["narrative"], spike["lang"]) == ("economic_recruitment", "tg")
    assert {"document_id", "url", "excerpt", "lang", "published_at"} <= set(spike["evidence"][0])

    only = CliRunner().invoke(app, ["alerts", "--db", str(truth_copy), "--since", "30d", "--kind", "silence",
                                    "--no-evaluate", "--format", "json"])
    assert [r["source_id"] for r in json.loads(only.stdout)] == ["fa-blog"]
    table = CliRunner().invoke(app, ["alerts", "--db", str(truth_copy), "--since", "30d", "--no-evaluate"])
    assert table.exit_code == 0 and all(kind in table.stdout for kind in ("spike", "spread", "silence"))


@pytest.mark.parametrize(
    "args",
    [["alerts", "--kind", "bogus"], ["alerts", "--since", "last week"], ["digest", "--email", "a@example.org"],
     ["digest", "--webhook", "ftp://x"]],
)
def test_bad_options_fail_with_a_message(truth_copy: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--db", str(truth_copy)])
    assert result.exit_code == 1 and "error" in result.output


def test_no_warehouse_is_created_by_a_typo(tmp_path: Path) -> None:
    for command in ("alerts", "digest"):
        result = CliRunner().invoke(app, [command, "--db", str(tmp_path / "typo.duckdb")])
        assert result.exit_code == 1 and "no warehouse" in result.output
    assert list(tmp_path.iterdir()) == []
