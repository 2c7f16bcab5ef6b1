"""Trend aggregates and the queries the CLI, digests and alerts share.

`refresh_trends` rebuilds two small daily tables from documents and detections; every trend query reads only
those, so query time depends on days × narratives × languages × sources, not on the number of detections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

DIMENSIONS = {"narrative": "narrative", "lang": "lang", "source": "source_id"}
PERIODS = {"day": "day", "week": "week", "month": "month"}
_SINCE = re.compile(r"^(\d+)([dw])$")


class TrendQueryError(ValueError):
    """A trend query with an unknown dimension, period or window."""


def parse_since(text: str, now: datetime | None = None) -> date:
    """'90d' / '12w' / '2026-09-01' → the first day included."""
    today = (now or datetime.utcnow()).date()  # noqa: DTZ003 - the warehouse is naive UTC
    match = _SINCE.match(text.strip())
    if match:
        n, unit = int(match.group(1)), match.group(2)
        return today - timedelta(days=n * (7 if unit == "w" else 1) - 1)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise TrendQueryError(f"--since: expected like '90d', '12w' or an ISO date, got {text!r}") from exc


def refresh_trends(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the daily aggregates (documents per day × lang × source; narrative documents incl. parents)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM doc_daily")
        con.execute(
            """INSERT INTO doc_daily
               SELECT CAST(published_at AS DATE), coalesce(lang, 'und'), source_id, count(*)
               FROM documents GROUP BY ALL"""
        )
        con.execute("DELETE FROM narrative_daily")
        # Parents are derived: 'taliban_deviation.iran_ties' counts for 'taliban_deviation' too (once per document).
        con.execute(
            """INSERT INTO narrative_daily
               WITH labelled AS (
                   SELECT det.document_id, det.narrative, det.stance FROM detections det
                   UNION
                   SELECT det.document_id, split_part(det.narrative, '.', 1), det.stance FROM detections det
                   WHERE det.narrative LIKE '%.%'
               )
               SELECT CAST(d.published_at AS DATE), l.narrative, coalesce(d.lang, 'und'), d.source_id,
                      count(DISTINCT d.id), count(DISTINCT d.id) FILTER (WHERE l.stance = 'promote')
               FROM labelled l JOIN documents d ON d.id = l.document_id
               GROUP BY ALL"""
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class TrendQuery:
    """What `pmon trends` asks: grouped counts and shares per period."""

    by: tuple[str, ...] = ("narrative", "lang")
    period: str = "week"
    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        unknown = [d for d in self.by if d not in DIMENSIONS]
        if unknown:
            raise TrendQueryError(f"--by: unknown {unknown}; choose from {', '.join(DIMENSIONS)}")
        if self.period not in PERIODS:
            raise TrendQueryError(f"--period: expected one of {', '.join(PERIODS)}, got {self.period!r}")


def query_trends(con: duckdb.DuckDBPyConnection, q: TrendQuery) -> list[dict[str, Any]]:
    """Documents and share per period × the chosen dimensions.

    `share` is the narrative's documents over all documents of the same period (and language/source when those
    are among the dimensions); without 'narrative' among the dimensions, rows count all documents.
    """
    where, params = _window(q)
    cols = [DIMENSIONS[d] for d in q.by]
    bucket = f"CAST(date_trunc('{PERIODS[q.period]}', day) AS DATE)"
    base_cols = [c for c in cols if c != "narrative"]
    base_select = ", ".join([f"{bucket} AS period", *base_cols])
    base_group = ", ".join(["period", *base_cols])
    totals = f"SELECT {base_select}, sum(documents) AS total FROM doc_daily WHERE {where} GROUP BY {base_group}"
    if "narrative" not in cols:
        sql = f"SELECT *, total AS documents, 1.0 AS share FROM ({totals}) ORDER BY ALL"
        return _rows(con.execute(sql, params))
    counts = (
        f"SELECT {bucket} AS period, {', '.join(cols)}, sum(documents) AS documents, sum(promote) AS promote "
        f"FROM narrative_daily WHERE {where} GROUP BY ALL"
    )
    join_on = " AND ".join(["c.period = t.period", *[f"c.{c} = t.{c}" for c in base_cols]])
    sql = (
        f"SELECT c.*, t.total, round(c.documents / t.total, 4) AS share FROM ({counts}) c "
        f"JOIN ({totals}) t ON {join_on} ORDER BY c.period, {', '.join('c.' + c for c in cols)}"
    )
    return _rows(con.execute(sql, params + params))


def compare_windows(
    con: duckdb.DuckDBPyConnection, recent_days: int = 30, baseline_days: int = 60, today: date | None = None,
    by: tuple[str, ...] = ("narrative", "lang"),
) -> list[dict[str, Any]]:
    """Narrative documents in the last `recent_days` against the `baseline_days` before, per the dimensions.

    Rates are per 30 days so windows of different lengths compare; `change` is recent rate / baseline rate
    (None when the baseline is empty).
    """
    today = today or datetime.utcnow().date()  # noqa: DTZ003
    recent_start = today - timedelta(days=recent_days - 1)
    baseline_start = recent_start - timedelta(days=baseline_days)
    cols = ", ".join(DIMENSIONS[d] for d in by)
    sql = f"""
        SELECT {cols},
               sum(documents) FILTER (WHERE day >= ?) AS recent,
               sum(documents) FILTER (WHERE day < ?) AS baseline
        FROM narrative_daily WHERE day >= ? AND day <= ? GROUP BY ALL ORDER BY ALL"""
    rows = _rows(con.execute(sql, [recent_start, recent_start, baseline_start, today]))
    for row in rows:
        row["recent"] = int(row["recent"] or 0)
        row["baseline"] = int(row["baseline"] or 0)
        recent_rate = row["recent"] * 30 / recent_days
        baseline_rate = row["baseline"] * 30 / baseline_days
        row["recent_per_30d"] = round(recent_rate, 2)
        row["baseline_per_30d"] = round(baseline_rate, 2)
        row["change"] = round(recent_rate / baseline_rate, 2) if baseline_rate else None
    return rows


def _window(q: TrendQuery) -> tuple[str, list[Any]]:
    clauses, params = ["TRUE"], []
    if q.since:
        clauses.append("day >= ?")
        params.append(q.since)
    if q.until:
        clauses.append("day <= ?")
        params.append(q.until)
    return " AND ".join(clauses), params


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
