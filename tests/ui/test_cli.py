"""`pmon documents` and `pmon show`: the UI's listing and document view in the terminal."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pmon.cli.main import app
from pmon.warehouse import Warehouse

runner = CliRunner()


def test_documents_filters_and_formats(small_warehouse) -> None:
    db, ids = small_warehouse
    result = runner.invoke(app, ["documents", "--db", str(db), "--narrative", "taliban_deviation", "--lang", "tg",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == [ids["tajik"]] and rows[0]["narratives"] == ["taliban_deviation.abandoned_jihad"]
    csv_out = runner.invoke(app, ["documents", "--db", str(db), "--q", "oʻzgardi", "--format", "csv"]).output
    assert csv_out.splitlines()[0].startswith("id,published_at") and len(csv_out.splitlines()) == 2
    table = runner.invoke(app, ["documents", "--db", str(db), "--source", "fa-news"])
    assert table.exit_code == 0 and "fa-news" in table.output
    bad = runner.invoke(app, ["documents", "--db", str(db), "--stance", "loud"])
    assert bad.exit_code == 1 and "--stance" in bad.output and "Traceback" not in bad.output


def test_show_by_prefix_with_evidence_and_detections(small_warehouse) -> None:
    db, ids = small_warehouse
    result = runner.invoke(app, ["show", ids["tajik"][:8], "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert ids["tajik"] in result.output and "Taliban abandoned jihad" in result.output
    assert "stance report" in result.output and "> Толибон аз роҳи ҷиҳод баргаштанд." in result.output
    planted = runner.invoke(app, ["show", ids["planted"], "--db", str(db)]).output
    assert "hxxps://bad[.]example" in planted and "https://bad.example" not in planted


def test_show_unknown_and_ambiguous_ids_are_one_line_errors(small_warehouse) -> None:
    db, _ = small_warehouse
    missing = runner.invoke(app, ["show", "zzzz", "--db", str(db)])
    assert missing.exit_code == 1 and missing.output.count("\n") == 1 and "no document" in missing.output
    # The fixture's ids are fixed (hashes of fixed texts); two of them share a first hex digit.
    with Warehouse.open(db, read_only=True) as wh:
        firsts = [r[0][0] for r in wh.con.execute("SELECT id FROM documents").fetchall()]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    ambiguous = runner.invoke(app, ["show", shared, "--db", str(db)])
    assert ambiguous.exit_code == 1 and "ambiguous" in ambiguous.output and ambiguous.output.count("\n") == 1
