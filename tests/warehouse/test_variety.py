"""Persian variety per document (migration 0009): stored with the language, a trend dimension and a filter, kept
equal by the incremental refresh and a full rebuild (a real DuckDB file, the real language detector)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from pmon.classifiers.langid import detect_document
from pmon.cli.main import app
from pmon.schemas.codebook import Stance
from pmon.schemas.detections import Classification, NarrativeScore
from pmon.schemas.documents import RawItem
from pmon.warehouse import TrendQuery, Warehouse, query_trends, refresh_trends

DAY = datetime(2026, 11, 24, 12, 0)
TEXTS = [
    "مقام‌های محلی در ولایت هرات می‌گویند که کار ساخت سرک تا ۱۵ حمل تمام می‌شود.",
    "شاروالی کابل اعلام کرد که موترهای کهنه از سرک‌های شهر جمع‌آوری می‌شوند.",
    "شهرداری تهران از آغاز طرح بازسازی خیابان‌های مرکزی شهر در اردیبهشت خبر داد.",
    "The council approved the new school budget on Monday.",
]


def _store(wh: Warehouse, texts: list[str], run: str) -> None:
    items = [RawItem(source_id="s1", text=text, published_at=DAY) for text in texts]
    languages = [detect_document(text) for text in texts]
    classifications = [Classification(stance=Stance.report, narratives=[NarrativeScore(id="anti_western", score=0.8)],
                                       model_version="m", codebook_version="c") for _ in texts]
    wh.store_batch(items, languages, classifications, run_id=run, classifier_tag="t")


def test_variety_is_stored_and_trends_count_by_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with Warehouse.open(db) as wh:
        _store(wh, TEXTS[:2], "r1")
        refresh_trends(wh.con)
        _store(wh, TEXTS[2:], "r2")  # folded in incrementally
        refresh_trends(wh.con)
        stored = dict(
            wh.con.execute("SELECT lang || coalesce('-' || variety, ''), count(*) FROM documents GROUP BY 1").fetchall()
        )
        assert stored == {"fa-prs": 2, "fa-pes": 1, "en": 1}
        unscored = "SELECT count(*) FROM documents WHERE variety IS NOT NULL AND variety_confidence IS NULL"
        assert wh.con.execute(unscored).fetchall()[0][0] == 0

        rows = query_trends(wh.con, TrendQuery(by=("lang", "variety"), period="day", since=DAY.date()))
        counts = {(row["lang"], row["variety"]): row["documents"] for row in rows}
        assert counts == {("en", None): 1, ("fa", "pes"): 1, ("fa", "prs"): 2}
        incremental = sorted(map(str, wh.con.execute("SELECT * FROM narrative_daily").fetchall()))
        refresh_trends(wh.con, full=True)
        assert sorted(map(str, wh.con.execute("SELECT * FROM narrative_daily").fetchall())) == incremental

        dari = query_trends(wh.con, TrendQuery(by=("narrative",), period="day", since=DAY.date(), variety="prs"))
        assert [(row["narrative"], row["documents"], row["total"]) for row in dari] == [("anti_western", 2, 2)]

    runner = CliRunner()
    result = runner.invoke(app, ["trends", "--db", str(db), "--by", "variety", "--period", "day",
                                 "--since", DAY.date().isoformat(), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"prs"' in result.output and '"pes"' in result.output
    bad = runner.invoke(app, ["trends", "--db", str(db), "--variety", "dari"])
    assert bad.exit_code != 0 and "--variety: expected one of prs, pes, und" in bad.output
    assert "Traceback" not in bad.output
