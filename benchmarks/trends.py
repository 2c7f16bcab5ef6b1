"""Trend-query latency over a warehouse of 10 million synthetic detections, and what a run pays at that size.

Builds (or reuses) a DuckDB warehouse with the project's own migrations, fills it in SQL with synthetic
documents and detections (skewed over sources, narratives and days, like real monitoring), rebuilds the trend
aggregates with `refresh_trends(full=True)`, then times the queries the CLI, digests and alerts use, each several times.
Prints a table, then one JSON line last::

    .venv/bin/python benchmarks/trends.py                                   # 10M detections (builds in minutes)
    .venv/bin/python benchmarks/trends.py --detections 1000000              # a quick look
    .venv/bin/python benchmarks/trends.py --db /tmp/trends.duckdb --keep    # keep the warehouse...
    .venv/bin/python benchmarks/trends.py --db /tmp/trends.duckdb --reuse   # ...and query it again

Query latencies are from Python, as callers get the results (`query_trends` returns Arrow-backed rows that
become dicts when read; the two biggest shapes are timed a second time with every row turned into a dict,
what `pmon trends --format json` pays on top): the first (cold) call is reported apart from the median and
worst of the repeats. Besides the read side, the JSON line carries the per-run writer costs at this warehouse
size: `refresh_trends` (a full rebuild, a run that wrote nothing, a run that stored one batch over three days
and three sources), `unclassified` (read at the start of every run), `save_fetch_state` (once per source with
new items; with the newest date given, as the flow does, and looked up), `existing_ids` and `store_batch` of
one batch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # run as a plain script from any directory

#: (lang, script) of the synthetic sources, in turn.
VARIETIES: tuple[tuple[str, str], ...] = (
    ("en", "Latn"), ("tg", "Cyrl"), ("uz", "Latn"), ("uz", "Cyrl"), ("fa", "Arab"), ("ps", "Arab"),
    ("ug", "Arab"), ("ug", "Latn"),
)
NARRATIVE_SHARE = 0.6  # documents carrying at least one narrative
MAX_NARRATIVES = 3  # a narrative document carries 1..3 leaf narratives (2 on average)


def build(
    con: Any, detections: int, sources: int, days: int, today: date, leaf_ids: list[str]
) -> dict[str, Any]:
    """Fill a migrated warehouse with synthetic sources, documents and exactly `detections` detections.

    Deterministic (DuckDB's `hash` of the row number drives every choice). Sources publish in one language
    variety each, with volumes skewed (a few big sources, many small ones); documents are dated over `days`
    days before `today` with a gentle rise; leaf narratives are skewed (a few common ones, a long tail) and
    parents are derived by `refresh_trends` as in real runs.

    Args:
        con: a connection to a warehouse with the migrations applied and no documents.
        detections: detections to insert.
        sources: number of sources.
        days: days of history.
        today: the last day of history.
        leaf_ids: the codebook's leaf narratives.

    Returns:
        Row counts and seconds per step.
    """
    per_document = NARRATIVE_SHARE * (1 + MAX_NARRATIVES) / 2
    documents = int(detections / per_document * 1.01) + 1000  # a little over: LIMIT makes the count exact
    now = datetime.combine(today, datetime.min.time()) + timedelta(hours=23)
    con.execute("CREATE OR REPLACE TEMP TABLE bench_leaves (k INTEGER, narrative VARCHAR)")
    con.executemany("INSERT INTO bench_leaves VALUES (?, ?)", list(enumerate(leaf_ids)))
    con.execute("CREATE OR REPLACE TEMP TABLE bench_varieties (v INTEGER, lang VARCHAR, script VARCHAR)")
    con.executemany("INSERT INTO bench_varieties VALUES (?, ?, ?)", [(i, *v) for i, v in enumerate(VARIETIES)])
    timings: dict[str, float] = {}

    started = time.perf_counter()
    con.execute(
        """INSERT INTO sources (id, kind, location, expected_langs, tags, grp, schedule, updated_at)
           SELECT printf('bench-src-%04d', s), 'feed', printf('https://feeds.example/%04d.xml', s),
                  [v.lang], ['bench'], 'news', '30m', ?
           FROM range(?) t(s) JOIN bench_varieties v ON v.v = s % ?""",
        [now, sources, len(VARIETIES)],
    )
    # u1: source (squared: skewed volumes), u2: day (square root: more recent days are busier), u3: narrative doc?
    con.execute(
        f"""INSERT INTO documents
            WITH r AS (
                SELECT i,
                       (hash(i, 1) % 1000003) / 1000003.0 AS u1,
                       (hash(i, 2) % 1000003) / 1000003.0 AS u2,
                       (hash(i, 3) % 1000003) / 1000003.0 AS u3,
                       hash(i, 4) % 86400 AS second
                FROM range(?) t(i)
            ), placed AS (
                SELECT i, CAST(floor(? * u1 * u1) AS BIGINT) AS s,
                       CAST(floor(? * (1 - sqrt(u2))) AS BIGINT) AS age, second,
                       CASE WHEN u3 < {NARRATIVE_SHARE} THEN
                           CASE WHEN u3 < {NARRATIVE_SHARE} * 0.5 THEN 'promote'
                                WHEN u3 < {NARRATIVE_SHARE} * 0.85 THEN 'report' ELSE 'counter' END
                       ELSE 'none' END AS stance
                FROM r
            )
            SELECT md5(CAST(i AS VARCHAR)), printf('bench-src-%04d', s), CAST(i AS VARCHAR), NULL, NULL,
                   'synthetic benchmark document ' || i, NULL, NULL,
                   CAST(? AS TIMESTAMP) - to_days(CAST(age AS INTEGER)) - to_seconds(second),
                   CAST(? AS TIMESTAMP), md5('c' || i), v.lang, v.script, 0.99, '{{}}', stance, 'bench', 'bench-run'
            FROM placed JOIN bench_varieties v ON v.v = s % ?""",  # noqa: S608 - the share is a module constant
        [documents, sources, days, now, now, len(VARIETIES)],
    )
    timings["documents_s"] = time.perf_counter() - started

    started = time.perf_counter()
    # 1..3 distinct leaves per narrative document: a skewed first choice, then steps of L // 3 round the codebook.
    step = max(1, len(leaf_ids) // MAX_NARRATIVES)
    con.execute(
        f"""INSERT INTO detections
            WITH n AS (
                SELECT id, stance, fetched_at, CAST(id AS VARCHAR) AS key,
                       CAST(floor(? * pow((hash(id, 5) % 1000003) / 1000003.0, 2)) AS BIGINT) AS first,
                       1 + hash(id, 6) % {MAX_NARRATIVES} AS k
                FROM documents WHERE stance <> 'none'
            )
            SELECT n.id, l.narrative, 0.5 + (hash(n.id, j) % 500) / 1000.0, n.stance,
                   ['synthetic evidence sentence'], 'bench-model', 'iskp@bench', n.fetched_at, 'bench-run'
            FROM n CROSS JOIN range({MAX_NARRATIVES}) t(j)
            JOIN bench_leaves l ON l.k = (n.first + j * {step}) % ?
            WHERE j < n.k
            LIMIT ?""",  # noqa: S608 - module constants and a computed int
        [len(leaf_ids), len(leaf_ids), detections],
    )
    timings["detections_s"] = time.perf_counter() - started
    con.execute("CHECKPOINT")
    return {
        "documents": int(con.execute("SELECT count(*) FROM documents").fetchall()[0][0]),
        "detections": int(con.execute("SELECT count(*) FROM detections").fetchall()[0][0]),
        "sources": sources,
        "days": days,
        **{k: round(v, 1) for k, v in timings.items()},
    }


def timed(function: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """First (cold) call, then `repeat` more: milliseconds and the number of rows of the result."""
    started = time.perf_counter()
    result = function()
    first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    rows = len(result) if hasattr(result, "__len__") else None
    return {"first_ms": round(first, 1), "median_ms": round(statistics.median(times), 1) if times else None,
            "max_ms": round(max(times), 1) if times else None, "rows": rows}


def read_queries(con: Any, today: date) -> dict[str, Callable[[], Any]]:
    """The trend queries of `pmon trends`, the digests and the alert rules, by name."""
    from pmon.warehouse import TrendQuery, compare_windows, query_trends

    since = today - timedelta(days=89)  # the CLI's default --since 90d
    queries: dict[str, Callable[[], Any]] = {}
    for by in (("narrative", "lang"), ("narrative", "lang", "source")):
        for period in ("week", "day"):
            query = TrendQuery(by=by, period=period, since=since, until=today)
            queries[f"query_trends by={','.join(by)} period={period} since=90d"] = (
                lambda q=query: query_trends(con, q))
    for by in (("narrative", "lang"), ("narrative", "lang", "source")):
        query = TrendQuery(by=by, period="week")
        queries[f"query_trends by={','.join(by)} period=week all-time"] = lambda q=query: query_trends(con, q)
    # What a caller that turns every row into a Python dict pays on top (`pmon trends --format json`, for one).
    big_day = TrendQuery(by=("narrative", "lang", "source"), period="day", since=since, until=today)
    big_all = TrendQuery(by=("narrative", "lang", "source"), period="week")
    queries["query_trends by=narrative,lang,source period=day since=90d, all rows as dicts"] = (
        lambda: list(query_trends(con, big_day)))
    queries["query_trends by=narrative,lang,source period=week all-time, all rows as dicts"] = (
        lambda: list(query_trends(con, big_all)))
    queries["query_trends by=lang,source period=week since=90d"] = lambda: query_trends(
        con, TrendQuery(by=("lang", "source"), period="week", since=since, until=today))
    for by in (("narrative", "lang"), ("narrative", "source"), ("narrative", "lang", "source")):
        queries[f"compare_windows 30d/60d by={','.join(by)}"] = (
            lambda b=by: compare_windows(con, recent_days=30, baseline_days=60, today=today, by=b))
    queries["compare_windows 7d/28d by=narrative,lang"] = lambda: compare_windows(
        con, recent_days=7, baseline_days=28, today=today)
    return queries


def alert_queries(con: Any, today: date) -> dict[str, Callable[[], Any]]:
    """`pmon.alerts.evaluate_alerts` (spike, spread and silence rules; emerging off), when the alerts package has it."""
    try:
        from pmon.alerts.rules import AlertSettings, evaluate_alerts
    except ImportError:
        return {}
    settings = AlertSettings(emerging_enabled=False)
    now = datetime.combine(today, datetime.min.time()) + timedelta(hours=23)
    return {"alerts.evaluate_alerts (emerging off)": lambda: evaluate_alerts(con, settings, now=now)}


def writer_costs(con: Any, warehouse: Any, repeat: int) -> dict[str, dict[str, Any]]:
    """What one monitoring run pays at this warehouse size besides its new documents."""
    from pmon.schemas.detections import Classification, NarrativeScore
    from pmon.schemas.documents import RawItem
    from pmon.schemas.language import LanguageResult
    from pmon.warehouse import refresh_trends

    costs: dict[str, dict[str, Any]] = {}
    costs["refresh_trends full rebuild"] = timed(lambda: refresh_trends(con, full=True), max(1, repeat // 3))
    costs["refresh_trends, nothing written (no-op run)"] = timed(lambda: refresh_trends(con), repeat)
    costs["unclassified (start of every run)"] = timed(lambda: warehouse.unclassified("bench"), repeat)
    ids = [row[0] for row in con.execute("SELECT id FROM documents USING SAMPLE 128 ROWS").fetchall()]
    costs["existing_ids (128 ids)"] = timed(lambda: warehouse.existing_ids(ids), repeat)
    costs["save_fetch_state (one source, newest date given: what the flow does)"] = timed(
        lambda: warehouse.save_fetch_state("bench-src-0001", '"etag"', None, datetime.now(UTC).replace(tzinfo=None)),
        repeat)
    costs["save_fetch_state (one source, newest date looked up)"] = timed(
        lambda: warehouse.save_fetch_state("bench-src-0001", '"etag"', None), repeat)
    counter = iter(range(10**9))
    now = datetime.now(UTC).replace(tzinfo=None)
    token = os.urandom(4).hex()  # new texts on every invocation: with --reuse, earlier runs' batches are stored

    def one_batch() -> tuple[list[Any], list[Any], list[Any]]:
        n = next(counter)
        items = [RawItem(source_id=f"bench-src-{2 + i % 3:04d}", external_id=f"new-{n}-{i}", title=None,
                         text=f"New synthetic document {token}-{n}-{i} for the store benchmark.",
                         published_at=now - timedelta(days=i % 3))  # a run's batch: three days, three sources
                 for i in range(128)]
        languages = [LanguageResult(lang="en", script="Latn", confidence=0.99) for _ in items]
        classifications = [
            Classification(narratives=[NarrativeScore(id="anti_western", score=0.9, evidence=["e"])] if i % 2 else [],
                           model_version="bench-model", codebook_version="iskp@bench")
            for i in range(len(items))
        ]
        return items, languages, classifications

    def store_one_batch() -> Any:
        return warehouse.store_batch(*one_batch(), "bench-run", "bench")

    try:
        costs["store_batch (128 new documents)"] = timed(store_one_batch, repeat)
    except Exception as exc:  # noqa: BLE001 - the store API is still moving; report rather than stop
        costs["store_batch (128 new documents)"] = {"error": f"{type(exc).__name__}: {exc}"}
    refresh_trends(con)  # what those batches marked

    incremental: list[float] = []
    for _ in range(repeat + 1):  # a run that stored one batch, then its refresh: only the refresh is timed
        store_one_batch()
        started = time.perf_counter()
        refresh_trends(con)
        incremental.append((time.perf_counter() - started) * 1000)
    costs["refresh_trends after a run's batch (9 day x source keys)"] = {
        "first_ms": round(incremental[0], 1), "median_ms": round(statistics.median(incremental[1:]), 1),
        "max_ms": round(max(incremental[1:]), 1), "rows": None}
    return costs


def main() -> None:
    """Build or reuse the warehouse, time everything, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detections", type=int, default=10_000_000)
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--days", type=int, default=730, help="days of history (default two years)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats after the first call")
    parser.add_argument("--db", type=Path, help="warehouse file (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="query --db as it is instead of building it")
    parser.add_argument("--keep", action="store_true", help="keep the warehouse file")
    parser.add_argument("--today", type=date.fromisoformat, help="last day of history (default: today, UTC)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, one per core)")
    args = parser.parse_args()
    if args.reuse and (args.db is None or not args.db.exists()):
        parser.error("--reuse needs --db pointing at a warehouse an earlier run built (and kept with --keep)")

    import duckdb

    from pmon.schemas.codebook import load_codebook
    from pmon.warehouse import Warehouse

    scratch = None
    if args.db is None:
        scratch = Path(tempfile.mkdtemp(prefix="pmon-bench-trends-"))
        args.db = scratch / "trends.duckdb"
    today = args.today or datetime.now(UTC).date()
    figures: dict[str, Any] = {"benchmark": "trends", "duckdb": duckdb.__version__, "cores": os.cpu_count(),
                               "load_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        if not args.reuse and args.db.exists():
            args.db.unlink()
        with Warehouse.open(args.db) as warehouse:
            con = warehouse.con
            if args.threads:
                con.execute(f"SET threads = {int(args.threads)}")
            if args.reuse:
                figures["build"] = {"reused": True}
            else:
                started = time.perf_counter()
                figures["build"] = build(con, args.detections, args.sources, args.days, today,
                                         load_codebook().leaf_ids)
                from pmon.warehouse import refresh_trends

                refresh_trends(con, full=True)
                figures["build"]["total_s"] = round(time.perf_counter() - started, 1)
                print(f"built {figures['build']} in {figures['build']['total_s']} s", file=sys.stderr)
            figures["rows"] = {
                table: int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])  # noqa: S608 - fixed names
                for table in ("documents", "detections", "doc_daily", "narrative_daily")
            }
            figures["db_mb"] = round(args.db.stat().st_size / 2**20, 1)
            figures["threads"] = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
            results: dict[str, dict[str, Any]] = {}
            for name, query in {**read_queries(con, today), **alert_queries(con, today)}.items():
                try:
                    results[name] = timed(query, args.repeat)
                except Exception as exc:  # noqa: BLE001 - report a broken query, time the others
                    results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            figures["queries"] = results
            figures["writer"] = writer_costs(con, warehouse, args.repeat)

        # What `pmon trends` pays on top: opening the file read-only, then one query.
        def cli_trends() -> Any:
            from pmon.warehouse import TrendQuery, query_trends

            with Warehouse.open(args.db, read_only=True) as reader:
                return query_trends(reader.con, TrendQuery(since=today - timedelta(days=89), until=today))

        figures["queries"]["open read-only + query_trends (what `pmon trends` does)"] = timed(cli_trends, args.repeat)
    finally:
        figures["load_after"] = [round(x, 2) for x in os.getloadavg()]
        if scratch is not None and not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    width = max(len(name) for name in [*figures["queries"], *figures["writer"]])
    print(f"{'query':<{width}}  {'first ms':>9} {'median ms':>10} {'max ms':>9} {'rows':>8}", file=sys.stderr)
    for section in ("queries", "writer"):
        for name, result in figures[section].items():
            if "error" in result:
                print(f"{name:<{width}}  {result['error']}", file=sys.stderr)
                continue
            print(f"{name:<{width}}  {result['first_ms']:>9} {result['median_ms']!s:>10} {result['max_ms']!s:>9} "
                  f"{result['rows']!s:>8}", file=sys.stderr)
    reads = [r["median_ms"] for r in figures["queries"].values() if r.get("median_ms") is not None]
    figures["slowest_query_median_ms"] = max(reads) if reads else None
    print(json.dumps(figures, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
