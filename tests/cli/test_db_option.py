"""#14: every command takes `--db` and `PMON_DB` alike; a missing warehouse is a one-line error, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pmon.cli.main import app
from pmon.warehouse import Warehouse


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    if hasattr(command, "commands"):  # a group (typer may ship its own click)
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


def test_every_db_option_reads_pmon_db() -> None:
    commands = _commands(typer.main.get_command(app))
    with_db = {
        " ".join(path): option
        for path, command in commands
        for option in command.params
        if "--db" in getattr(option, "opts", ())
    }
    assert {"review", "review confirm", "review reject", "train", "run", "trends", "runs", "export"} <= set(with_db)
    assert {name: option.envvar for name, option in with_db.items()} == dict.fromkeys(with_db, "PMON_DB")


@pytest.fixture
def empty_warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "elsewhere" / "pmon.duckdb"
    db.parent.mkdir()
    Warehouse.open(db).close()  # migrated, no documents
    return db


def test_review_and_its_verdicts_use_pmon_db(
    empty_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no data/pmon.duckdb here: only PMON_DB can name the warehouse
    env = {"PMON_DB": str(empty_warehouse)}
    listed = CliRunner().invoke(app, ["review", "--format", "json"], env=env)
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]", listed.output
    confirmed = CliRunner().invoke(app, ["review", "confirm", "no-such-document", "anti_western"], env=env)
    assert confirmed.exit_code == 1 and "no-such-document" in confirmed.output, confirmed.output
    assert "Traceback" not in confirmed.output and not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "args", [["review"], ["review", "confirm", "doc-1", "anti_western"], ["review", "reject", "doc-1", "anti_western"]]
)
@pytest.mark.parametrize("how", ["--db", "PMON_DB"])
def test_a_missing_warehouse_is_one_line_and_is_not_created(tmp_path: Path, args: list[str], how: str) -> None:
    db = tmp_path / "typo.duckdb"
    result = CliRunner().invoke(
        app, args + (["--db", str(db)] if how == "--db" else []), env={"PMON_DB": str(db)} if how == "PMON_DB" else {}
    )
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [f"error: no warehouse at {db}; run `pmon demo` or `pmon run` first, "
                                                  "or check --db / PMON_DB"]
    assert not db.exists()  # confirm/reject used to create an empty warehouse at a mistyped path
