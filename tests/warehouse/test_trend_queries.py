"""Trend queries read whole weeks from the weekly aggregates and cut weeks from the daily ones; every shape and
window must give what grouping the daily aggregates directly gives (a real DuckDB file)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path

import pytest

from pmon.warehouse import TrendQuery, Warehouse, query_trends, refresh_trends
from tests.warehouse.test_trends_incremental import NOW, _batch

TODAY = NOW.date()


def _reference(con, q: TrendQuery) -> list[dict]:  # noqa: ANN001 - a DuckDB connection
    """The query as grouping the daily aggregates by period gives it (what query_trends did before weekly tables)."""
    names = {"narrative": "narrative", "lang": "lang", "source": "source_id"}
    cols = [names[d] for d in q.by]
    base = [c for c in cols if c != "narrative"]
    bucket = f"CAST(date_trunc('{q.period}', day) AS DATE)"
    where, params = ["TRUE"], []
    for clause, value in (("day >= ?", q.since), ("day <= ?", q.until)):
        if value is not None:
            where.append(clause)
            params.append(value)
    window = " AND ".join(where)
    totals = (f"SELECT {', '.join([bucket + ' AS period', *base])}, CAST(sum(documents) AS BIGINT) AS total "  # noqa: S608 - fixed names; TrendQuery validated the period
              f"FROM doc_daily WHERE {window} GROUP BY ALL")
    if "narrative" not in cols:
        sql = f"SELECT *, total AS documents, CAST(1.0 AS DOUBLE) AS share FROM ({totals}) ORDER BY ALL"  # noqa: S608 - fixed names
        cur = con.execute(sql, params)
    else:
        counts = (f"SELECT {bucket} AS period, {', '.join(cols)}, CAST(sum(documents) AS BIGINT) AS documents, "  # noqa: S608 - fixed names; TrendQuery validated the period
                  f"CAST(sum(promote) AS BIGINT) AS promote FROM narrative_daily WHERE {window} GROUP BY ALL")
        join = " AND ".join(["c.period = t.period", *[f"c.{c} = t.{c}" for c in base]])
        sql = (f"SELECT c.*, t.total, round(c.documents / t.total, 4) AS share FROM ({counts}) c JOIN ({totals}) t "  # noqa: S608 - fixed names
               f"ON {join} ORDER BY c.period, {', '.join('c.' + c for c in cols)}")
        cur = con.execute(sql, params + params)
    names_out = [d[0] for d in cur.description]
    return [dict(zip(names_out, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture(scope="module")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("trend-queries") / "w.duckdb"
    rng = random.Random(11)
    with Warehouse.open(db) as wh:
        for run in range(3):  # stored and refreshed in runs: the weekly aggregates kept incrementally
            wh.store_batch(*_batch(rng, f"run{run}", 300, range(0, 75), ["s1", "s2", "s3", "s4"]),
                           run_id=f"r{run}", classifier_tag="t")
            refresh_trends(wh.con)
    return db


SHAPES = [by for n in (1, 2, 3) for by in combinations(("narrative", "lang", "source"), n)]
WINDOWS = [
    (None, None),
    (TODAY - timedelta(days=89), TODAY),  # the CLI's --since 90d
    (TODAY - timedelta(days=13), TODAY - timedelta(days=2)),  # within two cut weeks, no whole one
    (TODAY - timedelta(days=3), TODAY - timedelta(days=1)),  # inside one week
    (date(2026, 9, 7), date(2026, 10, 4)),  # Monday to Sunday: whole weeks only
    (date(2026, 9, 9), None),
    (None, date(2026, 10, 8)),
]


@pytest.mark.parametrize("period", ["week", "day", "month"])
@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: f"{w[0]}..{w[1]}")
def test_every_shape_and_window_equals_grouping_the_daily_aggregates(
    warehouse_path: Path, period: str, window: tuple[date | None, date | None]
) -> None:
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        for by in SHAPES:
            q = TrendQuery(by=by, period=period, since=window[0], until=window[1])
            rows = query_trends(wh.con, q)
            expected = _reference(wh.con, q)
            assert rows == expected, (by, period, window)
            assert len(expected) > 0 or window[0] == window[1]


def test_whole_weeks_come_from_the_weekly_aggregate(warehouse_path: Path, tmp_path: Path) -> None:
    # A copy whose weekly aggregate is emptied: whole weeks vanish, the cut weeks at the edges stay.
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(warehouse_path.read_bytes())
    q = TrendQuery(by=("narrative", "lang", "source"), period="week", since=date(2026, 9, 9), until=date(2026, 10, 8))
    with Warehouse.open(copy) as wh:
        before = {row["period"] for row in query_trends(wh.con, q)}
        wh.con.execute("DELETE FROM narrative_weekly")
        after = {row["period"] for row in query_trends(wh.con, q)}
    assert before == {date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 21), date(2026, 9, 28), date(2026, 10, 5)}
    assert after == {date(2026, 9, 7), date(2026, 10, 5)}


@pytest.mark.parametrize("field", ["lang", "source", "narrative"])
def test_filters_keep_exactly_the_matching_rows_with_their_shares(warehouse_path: Path, field: str) -> None:
    by = ("narrative", "lang", "source")
    since = TODAY - timedelta(days=40)
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        everything = list(query_trends(wh.con, TrendQuery(by=by, period="week", since=since, until=TODAY)))
        column = "source_id" if field == "source" else field  # how rows name the source
        value = everything[len(everything) // 2][column]  # a value that occurs
        filtered = list(query_trends(wh.con, TrendQuery(by=by, period="week", since=since, until=TODAY,
                                                        **{field: value})))
    assert filtered and len(filtered) < len(everything)
    # The same rows, shares included: a narrative filter never narrows the totals shares are taken of.
    assert filtered == [row for row in everything if row[column] == value]
