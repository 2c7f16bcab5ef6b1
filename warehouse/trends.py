"""Trend aggregates and the queries the CLI, digests and alerts share.

`refresh_trends` keeps two small daily tables up to date from documents and detections (adding what new
documents contribute, recomputing only the days and sources of relabelled ones); every trend query reads only
those, so query time depends on days × narratives × languages × sources, not on the number of detections.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, overload

import duckdb
import pyarrow as pa

from pmon.schemas.language import VARIETIES
from pmon.warehouse.transactions import transaction

DIMENSIONS = {"narrative": "narrative", "lang": "lang", "variety": "variety", "source": "source_id"}
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


#: Documents per day × language × source, over the documents `{docs}` names (a table or a subquery).
_DOC_DAILY = """INSERT INTO {target}
    SELECT CAST(published_at AS DATE), coalesce(lang, 'und'), variety, source_id, count(*)
    FROM {docs} GROUP BY ALL"""
#: Narrative documents per day × narrative × language × source, over the documents `{docs}` and the detections
#: `{dets}` name. Parents are derived: 'taliban_deviation.iran_ties' counts for 'taliban_deviation' too (once per
#: document).
_NARRATIVE_DAILY = """INSERT INTO {target}
    WITH d AS (SELECT * FROM {docs}),
    labelled AS (
        SELECT det.document_id, det.narrative, det.stance FROM {dets} det {det_filter}
        UNION
        SELECT det.document_id, split_part(det.narrative, '.', 1), det.stance FROM {dets} det
        WHERE det.narrative LIKE '%.%' {det_and}
    )
    SELECT CAST(d.published_at AS DATE), l.narrative, coalesce(d.lang, 'und'), d.variety, d.source_id,
           count(DISTINCT d.id), count(DISTINCT d.id) FILTER (WHERE l.stance = 'promote')
    FROM labelled l JOIN d ON d.id = l.document_id
    GROUP BY ALL"""
#: DuckDB's weeks start on Monday; the weekly aggregates and `TrendQuery(period="week")` use the same weeks.
_WEEK_OF_DAY = "CAST(date_trunc('week', day) AS DATE)"
_KEYS = {"doc_daily": ("day", "lang", "variety", "source_id"),
         "narrative_daily": ("day", "narrative", "lang", "variety", "source_id")}
_SUMS = {"doc_daily": ("documents",), "narrative_daily": ("documents", "promote")}


def record_new_documents(con: duckdb.DuckDBPyConnection, docs: str, dets: str) -> None:
    """Add what newly stored documents contribute to the aggregates to the delta tables (for `refresh_trends`).

    Call inside the transaction that stores them, with `docs` and `dets` naming only the new documents (all
    columns of `documents`) and their detections (document_id, narrative, stance).
    """
    con.execute(_DOC_DAILY.format(target="doc_daily_delta", docs=docs))
    con.execute(
        _NARRATIVE_DAILY.format(target="narrative_daily_delta", docs=docs, dets=dets, det_filter="", det_and="")
    )


@dataclass(frozen=True)
class TrendRefresh:
    """What `refresh_trends` did: a `full` rebuild, or `keys` (day, source) recomputed and `delta_rows` summed in."""

    full: bool
    keys: int
    delta_rows: int = 0

    @property
    def changed(self) -> bool:
        """True when aggregates may have changed."""
        return self.full or self.keys > 0 or self.delta_rows > 0


def refresh_trends(con: duckdb.DuckDBPyConnection, full: bool = False) -> TrendRefresh:
    """Bring the daily aggregates up to date (documents per day × lang × source; narrative documents incl. parents).

    Incremental. New documents only add counts: `Warehouse.store_batch` writes what they add to the delta tables
    in its own transaction, and they are summed into the aggregates here (no scan of `detections`). Relabelled
    documents (`replace_classifications`) mark their (day, source) keys in `trends_dirty`, and the aggregate rows
    of those keys are recomputed from their documents. Both in one transaction; the result equals a full rebuild
    (every aggregate row belongs to one (day, source) key and counts documents, each once). Nothing pending:
    nothing to do (a few ms).

    Args:
        con: a read-write connection to a migrated warehouse.
        full: rebuild everything from `documents` and `detections` (after writing them other than through
            `Warehouse`, e.g. in SQL). A warehouse whose aggregates were never fully built gets a full rebuild too.

    Returns:
        What was done: `full`, the `keys` recomputed and the `delta_rows` summed in.
    """
    full = full or not con.execute("SELECT count(*) FROM trends_state").fetchall()[0][0]
    dirty = deltas = 0
    if not full:
        dirty, deltas = con.execute(
            """SELECT (SELECT count(*) FROM trends_dirty),
                      (SELECT count(*) FROM doc_daily_delta) + (SELECT count(*) FROM narrative_daily_delta)"""
        ).fetchall()[0]
        if not dirty and not deltas:
            return TrendRefresh(full=False, keys=0)
    keys = 0
    try:
        with transaction(con):
            if full:
                con.execute("DELETE FROM doc_daily")
                con.execute("DELETE FROM narrative_daily")
                con.execute(_DOC_DAILY.format(target="doc_daily", docs="documents"))
                con.execute(_NARRATIVE_DAILY.format(target="narrative_daily", docs="documents", dets="detections",
                                                    det_filter="", det_and=""))
                _rebuild_weeks(con, touched=None)
                con.execute("INSERT OR REPLACE INTO trends_state VALUES (1, current_timestamp::TIMESTAMP)")
            else:
                # The (week, source) keys the deltas and relabelled documents touch, before they are consumed.
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE _trend_weeks AS SELECT DISTINCT {_WEEK_OF_DAY} AS week, source_id
                        FROM (SELECT day, source_id FROM doc_daily_delta UNION ALL
                              SELECT day, source_id FROM narrative_daily_delta UNION ALL
                              SELECT day, source_id FROM trends_dirty)"""  # noqa: S608 - fixed names
                )
                if deltas:
                    for table in ("doc_daily", "narrative_daily"):
                        _fold_deltas(con, table)
                if dirty:
                    keys = _recompute_dirty(con)
                _rebuild_weeks(con, touched="_trend_weeks")
            con.execute("DELETE FROM doc_daily_delta")
            con.execute("DELETE FROM narrative_daily_delta")
            con.execute("DELETE FROM trends_dirty")
    finally:
        for temp in ("_trend_keys", "_trend_docs", "_trend_sums", "_trend_weeks"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
    return TrendRefresh(full=full, keys=keys, delta_rows=int(deltas))


def _fold_deltas(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Sum the delta rows into `table`: the rows of the keys they touch are replaced by old + delta."""
    keys, sums = _KEYS[table], _SUMS[table]
    match = " AND ".join(f"a.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
    key_list = ", ".join(keys)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _trend_sums AS
            SELECT {key_list}, {", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in sums)} FROM (
                SELECT {key_list}, {", ".join(sums)} FROM {table} a
                WHERE EXISTS (SELECT 1 FROM {table}_delta d WHERE {match})
                UNION ALL
                SELECT {key_list}, {", ".join(sums)} FROM {table}_delta
            ) GROUP BY ALL"""  # noqa: S608 - fixed names
    )
    con.execute(f"DELETE FROM {table} a WHERE EXISTS (SELECT 1 FROM {table}_delta d WHERE {match})")  # noqa: S608
    con.execute(f"INSERT INTO {table} SELECT {key_list}, {', '.join(sums)} FROM _trend_sums")  # noqa: S608


def _rebuild_weeks(con: duckdb.DuckDBPyConnection, touched: str | None) -> None:
    """Rewrite the weekly aggregates from the daily ones: all of them, or the (week, source) keys in `touched`."""
    for daily, weekly, columns in (("doc_daily", "doc_weekly", "lang, variety, source_id, sum(documents)"),
                                   ("narrative_daily", "narrative_weekly",
                                    "narrative, lang, variety, source_id, sum(documents), sum(promote)")):
        if touched is None:
            con.execute(f"DELETE FROM {weekly}")  # noqa: S608 - fixed names
            con.execute(f"INSERT INTO {weekly} SELECT {_WEEK_OF_DAY}, {columns} FROM {daily} GROUP BY ALL")  # noqa: S608
            continue
        con.execute(
            f"""DELETE FROM {weekly} WHERE EXISTS (
                SELECT 1 FROM {touched} k WHERE k.week = {weekly}.week AND k.source_id = {weekly}.source_id)"""  # noqa: S608
        )
        con.execute(
            f"""INSERT INTO {weekly} SELECT {_WEEK_OF_DAY}, {columns} FROM {daily} d
                SEMI JOIN {touched} k ON {_WEEK_OF_DAY} = k.week AND d.source_id = k.source_id
                WHERE d.day >= (SELECT min(week) FROM {touched}) AND d.day < (SELECT max(week) FROM {touched}) + 7
                GROUP BY ALL"""  # noqa: S608 - fixed names; the day range lets DuckDB skip row groups
        )


def _recompute_dirty(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute the aggregate rows of the (day, source) keys in `trends_dirty` from their documents."""
    con.execute("CREATE OR REPLACE TEMP TABLE _trend_keys AS SELECT DISTINCT day, source_id FROM trends_dirty")
    keys = int(con.execute("SELECT count(*) FROM _trend_keys").fetchall()[0][0])
    lo, hi = con.execute("SELECT min(day), max(day) FROM _trend_keys").fetchall()[0]
    # The documents of the touched keys; the published_at range lets DuckDB skip row groups by zone maps.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _trend_docs AS
           SELECT d.id, d.published_at, d.lang, d.variety, d.source_id FROM documents d
           SEMI JOIN _trend_keys k ON CAST(d.published_at AS DATE) = k.day AND d.source_id = k.source_id
           WHERE d.published_at >= ?::DATE AND d.published_at < ?::DATE + 1""",
        [lo, hi],
    )
    for table in ("doc_daily", "narrative_daily"):
        con.execute(
            f"""DELETE FROM {table} WHERE EXISTS (
                SELECT 1 FROM _trend_keys k WHERE k.day = {table}.day AND k.source_id = {table}.source_id)"""  # noqa: S608
        )
    con.execute(_DOC_DAILY.format(target="doc_daily", docs="_trend_docs"))
    doc_filter = "det.document_id IN (SELECT id FROM _trend_docs)"
    con.execute(_NARRATIVE_DAILY.format(target="narrative_daily", docs="_trend_docs", dets="detections",
                                        det_filter=f"WHERE {doc_filter}", det_and=f"AND {doc_filter}"))
    return keys


@dataclass(frozen=True)
class TrendQuery:
    """What `pmon trends` asks: grouped counts and shares per period."""

    by: tuple[str, ...] = ("narrative", "lang")
    period: str = "week"
    since: date | None = None
    until: date | None = None
    variety: str | None = None  # only documents of this Persian variety ('prs', 'pes', 'und')
    lang: str | None = None  # only documents in this language
    source: str | None = None  # only documents of this source
    narrative: str | None = None  # only this narrative (a parent counts its sub-narratives' documents once)

    def __post_init__(self) -> None:
        unknown = [d for d in self.by if d not in DIMENSIONS]
        if unknown:
            raise TrendQueryError(f"--by: unknown {unknown}; choose from {', '.join(DIMENSIONS)}")
        if self.period not in PERIODS:
            raise TrendQueryError(f"--period: expected one of {', '.join(PERIODS)}, got {self.period!r}")
        if self.variety is not None and self.variety not in VARIETIES:
            raise TrendQueryError(f"--variety: expected one of {', '.join(VARIETIES)}, got {self.variety!r}")


class TrendRows(Sequence[dict[str, Any]]):
    """Rows of a trend query, held as an Arrow table: a sequence of dicts built only when read.

    Source-level shapes run to hundreds of thousands of rows at 10M detections, and turning them all into Python
    dicts took 1-2 s whatever the query plan; callers that read a few rows, count them or hand them on as
    Arrow (`.table`) no longer pay for that. Reading them all (`list(rows)`, iteration) gives the same dicts,
    with the same Python values, as before: `period` a date, counts ints, `share` a float.
    """

    _CHUNK = 65_536

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._names = table.column_names

    def __len__(self) -> int:
        return int(self.table.num_rows)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self._dicts(self.table.slice(start, max(0, stop - start)))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("trend row index out of range")
        return self._dicts(self.table.slice(index, 1))[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for start in range(0, len(self), self._CHUNK):
            yield from self._dicts(self.table.slice(start, self._CHUNK))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TrendRows):
            return bool(self.table.equals(other.table))
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TrendRows({len(self)} rows: {', '.join(self._names)})"

    def to_list(self) -> list[dict[str, Any]]:
        """All rows as a list of dicts."""
        return list(self)

    def _dicts(self, part: pa.Table) -> list[dict[str, Any]]:
        columns = [column.to_pylist() for column in part.columns]  # column by column: C speed, no per-row Arrow calls
        names = self._names
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def query_trends(con: duckdb.DuckDBPyConnection, q: TrendQuery) -> TrendRows:
    """Documents and share per period × the chosen dimensions.

    `share` is the narrative's documents over all documents of the same period (and language/source when those
    are among the dimensions); without 'narrative' among the dimensions, rows count all documents.

    Weeks are read from the weekly aggregates where the window covers them whole, and summed from the daily ones
    at a window's cut edges; a query by every dimension of an aggregate reads its rows as they are (they are one
    per period and key), without grouping them again.

    Returns:
        The rows, ordered by period and the dimensions, as a sequence of dicts backed by Arrow (`.table`).
    """
    cols = [DIMENSIONS[d] for d in q.by]
    base_cols = [c for c in cols if c != "narrative"]
    totals, total_params = _period_rows("doc", q, base_cols)
    if "narrative" not in cols:
        sql = (f"SELECT period, {', '.join([*base_cols, ''])}documents AS total, documents, "  # noqa: S608 - column names from DIMENSIONS, subquery built here
               f"CAST(1.0 AS DOUBLE) AS share FROM ({totals}) ORDER BY ALL")
        return _arrow_rows(con, sql, total_params)
    counts, count_params = _period_rows("narrative", q, cols)
    # IS NOT DISTINCT FROM: `variety` is NULL for documents not in Persian, and those rows must still join.
    join_on = " AND ".join(["c.period = t.period", *[f"c.{c} IS NOT DISTINCT FROM t.{c}" for c in base_cols]])
    sql = (
        f"SELECT c.*, t.documents AS total, round(c.documents / t.documents, 4) AS share FROM ({counts}) c "  # noqa: S608 - column names from DIMENSIONS, subqueries built here
        f"JOIN ({totals}) t ON {join_on} ORDER BY c.period, {', '.join('c.' + c for c in cols)}"
    )
    return _arrow_rows(con, sql, count_params + total_params)


#: The aggregates' key columns (besides the day or week) and sums, by kind.
_AGGREGATES = {"doc": (("lang", "variety", "source_id"), ("documents",)),
               "narrative": (("narrative", "lang", "variety", "source_id"), ("documents", "promote"))}


def _period_rows(kind: str, q: TrendQuery, cols: list[str]) -> tuple[str, list[Any]]:
    """SQL (and parameters) for `period`, `cols` and the sums (BIGINT) of one kind of aggregate in the window.

    Rows are unique per period and `cols`: the parts below cover disjoint periods (whole weeks from the weekly
    aggregate, the cut weeks at the window's edges from the daily one), so they are simply put together.
    """
    keys, sums = _AGGREGATES[kind]
    whole = sorted(cols) == sorted(keys)  # the aggregate's own rows: one per period and key already
    # Sums as BIGINT (DuckDB's HUGEINT would reach Arrow as decimals), so rows read back as Python ints.
    summed = ", ".join([*cols, *(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in sums)])
    plain = ", ".join([*cols, *(f"CAST({c} AS BIGINT) AS {c}" for c in sums)])
    parts: list[tuple[str, list[Any]]] = []
    day_ranges = [(q.since, q.until)]
    weeks = _whole_weeks(q) if q.period == "week" else None
    if weeks is not None:
        first, last = weeks
        where, params = _range("week", first, last, _filters(kind, q))
        if whole:
            parts.append((f"SELECT week AS period, {plain} FROM {kind}_weekly WHERE {where}", params))  # noqa: S608 - fixed names
        else:
            parts.append((f"SELECT week AS period, {summed} FROM {kind}_weekly WHERE {where} GROUP BY ALL", params))  # noqa: S608 - fixed names
        day_ranges = []
        if q.since is not None and first is not None and q.since < first:
            day_ranges.append((q.since, first - timedelta(days=1)))
        if q.until is not None and last is not None and q.until > last + timedelta(days=6):
            day_ranges.append((last + timedelta(days=7), q.until))
    bucket = f"CAST(date_trunc('{PERIODS[q.period]}', day) AS DATE)"
    for lo, hi in day_ranges:
        where, params = _range("day", lo, hi, _filters(kind, q))
        if q.period == "day" and whole:
            parts.append((f"SELECT day AS period, {plain} FROM {kind}_daily WHERE {where}", params))  # noqa: S608 - fixed names
        else:
            parts.append((f"SELECT {bucket} AS period, {summed} FROM {kind}_daily WHERE {where} GROUP BY ALL", params))  # noqa: S608 - fixed names
    return " UNION ALL ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]


def _whole_weeks(q: TrendQuery) -> tuple[date | None, date | None] | None:
    """The Mondays of the first and last weeks that lie whole in the window (None: unbounded), or None if none do."""
    first = last = None
    if q.since is not None:
        first = q.since + timedelta(days=(7 - q.since.weekday()) % 7)
    if q.until is not None:
        last = q.until - timedelta(days=q.until.weekday() + (0 if q.until.weekday() == 6 else 7))
    if first is not None and last is not None and first > last:
        return None
    return first, last


def _filters(kind: str, q: TrendQuery) -> dict[str, str]:
    """Equality filters on the aggregate's key columns; the narrative filters narrative counts, never the totals
    that shares are taken of."""
    wanted = {"variety": q.variety, "lang": q.lang, "source_id": q.source}
    if kind == "narrative":
        wanted["narrative"] = q.narrative
    return {column: value for column, value in wanted.items() if value is not None}


def _range(column: str, lo: date | None, hi: date | None, filters: dict[str, str]) -> tuple[str, list[Any]]:
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    for key, value in filters.items():  # keys are the aggregates' column names (see _filters), never user text
        clauses.append(f"{key} = ?")
        params.append(value)
    if lo is not None:
        clauses.append(f"{column} >= ?")
        params.append(lo)
    if hi is not None:
        clauses.append(f"{column} <= ?")
        params.append(hi)
    return " AND ".join(clauses), params


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
        FROM narrative_daily WHERE day >= ? AND day <= ? GROUP BY ALL ORDER BY ALL"""  # noqa: S608 - column names from DIMENSIONS
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


def _arrow_rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> TrendRows:
    return TrendRows(con.sql(sql, params=params).to_arrow_table())


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
