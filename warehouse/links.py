"""Message links in the warehouse: each new document joins a message group or starts one; nothing is re-linked.

`update_message_links` is called by the monitor flow after a run's batches are stored (and by anyone who wants
the links of a warehouse up to date). It reads the documents that have no link yet, compares them with the
already-linked documents of their time window (whose document vectors are kept in `message_vectors`, so only the
new ones are embedded) and writes one `message_links` row per new document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from pmon.classifiers.links import LinkDocument, LinkSettings, document_embeddings, link, sentence_embeddings
from pmon.schemas.documents import RawItem
from pmon.warehouse.store import Warehouse, utcnow
from pmon.warehouse.trends import DIMENSIONS, PERIODS, TrendQuery, TrendQueryError, TrendRows

_COLUMNS = ("document_id", "group_id", "lang", "first_id", "first_lang", "first_source", "lag_hours", "score",
            "linked_at", "run_id")


def update_message_links(
    warehouse: Warehouse, embed: Callable[[list[str]], np.ndarray], model: str, *,
    settings: LinkSettings | None = None, run_id: str | None = None, backlog_days: float | None = 14.0,
) -> int:
    """Link the documents that have no message group yet; returns how many were linked (0 when none are new).

    Args:
        warehouse: an open, writable warehouse.
        embed: sentences → L2-normalised rows (the run's classifier's ``embed``, whose cache already holds the
            new documents' sentences).
        model: the encoder's name; earlier documents' vectors from another encoder are not compared.
        settings: linker thresholds (default :class:`~pmon.classifiers.links.LinkSettings`).
        run_id: recorded with the new rows.
        backlog_days: unlinked documents fetched longer ago than this are left alone: runs do not keep sentence
            embeddings in the warehouse, so linking a whole upgraded warehouse would embed every old document
            again. None links all of them.
    """
    settings = settings or LinkSettings()
    con = warehouse.con
    new = _rows(con.execute(
        """SELECT d.id, d.title, d.text, coalesce(d.lang, 'und') AS lang,
                  coalesce(d.published_at, d.fetched_at) AS published_at, d.source_id
           FROM documents d ANTI JOIN message_links m ON m.document_id = d.id
           WHERE ? IS NULL OR d.fetched_at >= ?
           ORDER BY published_at, d.id""",
        [None if backlog_days is None else 1, utcnow() - timedelta(days=backlog_days or 0)]))
    if not new:
        return 0
    window = timedelta(hours=settings.window_hours)
    context = _rows(con.execute(
        """SELECT d.id, d.title, d.text, coalesce(d.lang, 'und') AS lang,
                  coalesce(d.published_at, d.fetched_at) AS published_at, d.source_id, m.group_id, v.vector,
                  v.sentences
           FROM message_links m JOIN documents d ON d.id = m.document_id
           JOIN message_vectors v ON v.document_id = m.document_id AND v.model = ?
           WHERE coalesce(d.published_at, d.fetched_at) BETWEEN ? AND ?""",
        [model, new[0]["published_at"] - window, new[-1]["published_at"] + window]))
    new_sentences = sentence_embeddings([_full_text(r) for r in new], embed)
    new_vectors = document_embeddings(sentences=new_sentences)
    dim = new_vectors.shape[1]
    vectors = np.vstack([new_vectors, *[np.asarray(r["vector"], dtype=np.float32)[None, :] for r in context]])
    sentences = [*new_sentences, *[np.asarray(r["sentences"], dtype=np.float32).reshape(-1, dim) for r in context]]
    rows = new + context
    documents = [LinkDocument(id=r["id"], text=_full_text(r), lang=r["lang"], published_at=r["published_at"],
                              source=r["source_id"]) for r in rows]
    memberships = link(documents, vectors, settings, known={r["id"]: r["group_id"] for r in context},
                       sentences=sentences)

    now = utcnow()
    links = pa.table({
        "document_id": [r["id"] for r in new],
        "group_id": [memberships[r["id"]].group for r in new],
        "lang": [r["lang"] for r in new],
        "first_id": [r["id"] for r in new],  # refreshed below, over the whole group
        "first_lang": pa.nulls(len(new), pa.string()),
        "first_source": pa.nulls(len(new), pa.string()),
        "lag_hours": [0.0] * len(new),
        "score": pa.array([memberships[r["id"]].score for r in new], pa.float64()),
        "linked_at": [now] * len(new),
        "run_id": pa.array([run_id] * len(new), pa.string()),
    })
    flat = np.ascontiguousarray(new_vectors, dtype=np.float32)
    sentence_rows = np.concatenate(new_sentences).astype(np.float32)
    sentence_offsets = np.cumsum([0, *(len(rows_) * dim for rows_ in new_sentences)]).astype(np.int32)
    vector_table = pa.table({
        "document_id": [r["id"] for r in new],
        "model": [model] * len(new),
        "vector": pa.ListArray.from_arrays(
            pa.array(np.arange(0, flat.size + 1, flat.shape[1], dtype=np.int32)), pa.array(flat.ravel())),
        "sentences": pa.ListArray.from_arrays(pa.array(sentence_offsets), pa.array(sentence_rows.ravel())),
    })
    groups = sorted({memberships[r["id"]].group for r in new})
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_new_links", links)
        con.register("_new_vectors", vector_table)
        columns = ", ".join(_COLUMNS)
        con.execute(f"INSERT INTO message_links ({columns}) SELECT {columns} FROM _new_links")  # noqa: S608 - constants
        con.execute("INSERT INTO message_vectors SELECT * FROM _new_vectors ON CONFLICT DO NOTHING")
        _refresh_firsts(con, groups)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_new_links")
        con.unregister("_new_vectors")
    return len(new)


def _refresh_firsts(con: Any, groups: Sequence[str]) -> None:
    """Set first_* and lag_hours of every member of these groups from their earliest member."""
    con.execute(
        """UPDATE message_links AS m SET first_id = f.first_id, first_lang = f.first_lang,
                  first_source = f.first_source, lag_hours = f.lag_hours
           FROM (
               SELECT l.document_id,
                      first_value(d.id ORDER BY t, d.id) OVER g AS first_id,
                      first_value(coalesce(d.lang, 'und') ORDER BY t, d.id) OVER g AS first_lang,
                      first_value(d.source_id ORDER BY t, d.id) OVER g AS first_source,
                      round(epoch(t - min(t) OVER g) / 3600.0, 2) AS lag_hours
               FROM message_links l
               JOIN (SELECT id, lang, source_id, coalesce(published_at, fetched_at) AS t FROM documents) d
                    ON d.id = l.document_id
               WHERE l.group_id IN (SELECT unnest(?))
               WINDOW g AS (PARTITION BY l.group_id)
           ) f
           WHERE m.document_id = f.document_id""",
        [list(groups)],
    )


def message_groups(warehouse: Warehouse, document_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Stored links (all, or of these documents): document_id, group_id, lang, first_id, first_lang,
    first_source, lag_hours, score."""
    sql = ("SELECT document_id, group_id, lang, first_id, first_lang, first_source, lag_hours, score "
           "FROM message_links")
    params: list[Any] = []
    if document_ids is not None:
        sql += " WHERE document_id IN (SELECT unnest(?))"
        params.append(list(document_ids))
    return _rows(warehouse.con.execute(sql + " ORDER BY group_id, lag_hours, document_id", params))


def _full_text(row: dict[str, Any]) -> str:
    return str(RawItem(source_id=row["source_id"], title=row["title"], text=row["text"]).full_text)


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def release_spreads(
    warehouse_or_con: Warehouse | duckdb.DuckDBPyConnection, start: datetime, end: datetime, *, within_hours: float,
    min_langs: int,
) -> list[dict[str, Any]]:
    """Messages first published in [start, end) that reached `min_langs` languages within `within_hours`.

    Returns:
        One dict per message, most languages first: group_id, first_id, first_lang, first_source, first_at,
        narrative (the one detected on most of its members, None when none), langs ({lang: hours after the first
        document until its first member in that language}) and members (document rows: id, source_id, url, title,
        text, lang, published_at, lag_hours; the earliest per language).
    """
    con = _connection(warehouse_or_con)
    groups = _rows(con.execute(
        """WITH firsts AS (
               SELECT m.group_id, any_value(m.first_id) AS first_id, any_value(m.first_lang) AS first_lang,
                      any_value(m.first_source) AS first_source,
                      any_value(coalesce(d.published_at, d.fetched_at)) AS first_at
               FROM message_links m JOIN documents d ON d.id = m.first_id
               GROUP BY m.group_id
           ), reached AS (
               SELECT group_id, lang, min(lag_hours) AS lag FROM message_links
               WHERE lag_hours <= ? AND lang <> 'und' GROUP BY ALL
           )
           SELECT f.group_id, f.first_id, f.first_lang, f.first_source, f.first_at,
                  map(list(r.lang ORDER BY r.lag, r.lang), list(r.lag ORDER BY r.lag, r.lang)) AS langs
           FROM firsts f JOIN reached r ON r.group_id = f.group_id
           WHERE f.first_at >= ? AND f.first_at < ?
           GROUP BY ALL HAVING count(*) >= ?
           ORDER BY count(*) DESC, f.first_at, f.group_id""",
        [within_hours, start, end, min_langs]))
    if not groups:
        return []
    ids = [g["group_id"] for g in groups]
    members = _rows(con.execute(
        """SELECT m.group_id, d.id, d.source_id, d.url, d.title, d.text, m.lang,
                  coalesce(d.published_at, d.fetched_at) AS published_at, m.lag_hours
           FROM message_links m JOIN documents d ON d.id = m.document_id
           WHERE m.group_id IN (SELECT unnest(?)) AND m.lag_hours <= ?
           QUALIFY row_number() OVER (PARTITION BY m.group_id, m.lang ORDER BY m.lag_hours, d.id) = 1
           ORDER BY m.group_id, m.lag_hours, d.id""", [ids, within_hours]))
    narratives = dict(con.execute(
        """SELECT group_id, arg_max(narrative, n) FROM (
               SELECT m.group_id, det.narrative, count(*) AS n
               FROM message_links m JOIN detections det ON det.document_id = m.document_id
               WHERE m.group_id IN (SELECT unnest(?)) GROUP BY ALL)
           GROUP BY group_id""", [ids]).fetchall())
    for g in groups:
        g["langs"] = dict(g["langs"])
        g["narrative"] = narratives.get(g["group_id"])
        g["members"] = [m for m in members if m["group_id"] == g["group_id"]]
    return groups


def query_message_trends(warehouse_or_con: Warehouse | duckdb.DuckDBPyConnection, q: TrendQuery) -> TrendRows:
    """Like :func:`pmon.warehouse.query_trends`, counting messages instead of documents.

    A message is a group of linked documents (a release and its translations and reposts; a document not linked
    yet counts as its own message). A message counts once per period and combination of the dimensions: a
    release translated into six languages is one message by narrative, and one message in each of six languages
    by narrative and language. Reads documents, detections and links (not the daily aggregates), so it costs a
    scan of the window's documents.

    Returns:
        Rows with `period`, the dimensions, `total` (messages of the period and language/source), `messages` and
        `share`, ordered by period and dimensions.
    """
    con = _connection(warehouse_or_con)
    if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'message_links'").fetchall():
        raise TrendQueryError("this warehouse has no message links yet: the next `pmon run` adds them")
    cols = [DIMENSIONS[d] for d in q.by]
    base_cols = [c for c in cols if c != "narrative"]
    period = f"CAST(date_trunc('{PERIODS[q.period]}', coalesce(d.published_at, d.fetched_at)) AS DATE)"
    where = ["TRUE"]
    params: list[Any] = []
    if q.since is not None:
        where.append("CAST(coalesce(d.published_at, d.fetched_at) AS DATE) >= ?")
        params.append(q.since)
    if q.until is not None:
        where.append("CAST(coalesce(d.published_at, d.fetched_at) AS DATE) <= ?")
        params.append(q.until)
    docs = (f"SELECT {period} AS period, coalesce(m.group_id, d.id) AS message, coalesce(d.lang, 'und') AS lang, "  # noqa: S608 - names from DIMENSIONS
            f"d.source_id, d.id FROM documents d LEFT JOIN message_links m ON m.document_id = d.id "
            f"WHERE {' AND '.join(where)}")
    keys = ", ".join(["period", *base_cols])
    totals = f"SELECT {keys}, count(DISTINCT message) AS messages FROM docs GROUP BY ALL"  # noqa: S608 - DIMENSIONS
    if "narrative" not in cols:
        sql = (f"WITH docs AS ({docs}) SELECT {keys}, messages AS total, messages, CAST(1.0 AS DOUBLE) AS share "  # noqa: S608 - names from DIMENSIONS
               f"FROM ({totals}) ORDER BY ALL")
        return TrendRows(con.sql(sql, params=params).to_arrow_table())
    counts = (f"SELECT period, {', '.join(cols)}, count(DISTINCT message) AS messages "  # noqa: S608 - names from DIMENSIONS
              f"FROM docs JOIN (SELECT DISTINCT document_id, narrative FROM detections) det "
              f"ON det.document_id = docs.id GROUP BY ALL")
    join_on = " AND ".join(["c.period = t.period", *[f"c.{c} = t.{c}" for c in base_cols]])
    sql = (f"WITH docs AS ({docs}) SELECT c.period, {', '.join('c.' + c for c in cols)}, t.messages AS total, "  # noqa: S608 - names from DIMENSIONS
           f"c.messages, round(c.messages / t.messages, 4) AS share FROM ({counts}) c JOIN ({totals}) t "
           f"ON {join_on} ORDER BY c.period, {', '.join('c.' + c for c in cols)}")
    return TrendRows(con.sql(sql, params=params).to_arrow_table())


def _connection(warehouse_or_con: Warehouse | duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return warehouse_or_con.con if isinstance(warehouse_or_con, Warehouse) else warehouse_or_con


def english_counterparts(con: duckdb.DuckDBPyConnection, document_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """For each of these documents that shares a message with an English document: that document (the earliest
    English member: id, source_id, title, text), by the asked id. Not a translation: the same message as published
    in English, which a reader of English can follow."""
    linked = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'message_links'").fetchall()[0][0]
    if not document_ids or not linked:  # a warehouse read before migration 0010 has no links
        return {}
    rows = _rows(con.execute(
        """SELECT m.document_id AS asked, e.id, e.source_id, e.title, e.text
           FROM message_links m
           JOIN message_links other ON other.group_id = m.group_id AND other.document_id <> m.document_id
           JOIN documents e ON e.id = other.document_id AND e.lang = 'en'
           WHERE m.document_id IN (SELECT unnest(?))
           QUALIFY row_number() OVER (PARTITION BY m.document_id ORDER BY other.lag_hours, e.id) = 1""",
        [list(document_ids)]))
    return {row.pop("asked"): row for row in rows}
