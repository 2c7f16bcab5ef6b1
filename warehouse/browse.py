"""Read queries for browsing the warehouse (`pmon ui`, `pmon documents`, `pmon show`) and the alert actions.

Every value that comes from a request is a bound parameter; the SQL text is fixed. Text search normalises both
sides the same way (`normalise_for_search` in Python, `_NORMALISED_TEXT` in SQL), so Arabic/Persian letter variants,
zero-width non-joiners and the Uzbek apostrophes match whichever form a writer used.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from pmon.warehouse.store import utcnow

ALERT_ACTIONS = ("acknowledged", "dismissed")
STANCES = ("promote", "report", "counter", "none")

#: (from, to) character pairs applied after lower-casing: Arabic yeh and alef maksura → Persian yeh, Arabic kaf →
#: keheh, Arabic heh goal variants left alone; the Uzbek oʻ/gʻ apostrophe in its four spellings → ASCII.
_FOLDS = (("ي", "ی"), ("ى", "ی"), ("ك", "ک"), ("ʻ", "'"), ("ʼ", "'"), ("‘", "'"), ("’", "'"), ("`", "'"))
#: Removed altogether: zero-width non-joiner and joiner, soft hyphen, Arabic tatweel.
_DROPS = ("\u200c", "\u200d", "\u00ad", "\u0640")


def normalise_for_search(text: str) -> str:
    """The form both a query and the searched text take: lower case, letter variants folded, joiners dropped.

    Example:
        >>> normalise_for_search("Oʻzbek كتاب\u200cها")
        "o'zbek کتابها"
    """
    text = text.lower()
    for old, new in _FOLDS:
        text = text.replace(old, new)
    for gone in _DROPS:
        text = text.replace(gone, "")
    return text


def _normalised_sql(column: str) -> str:
    """`normalise_for_search` as a SQL expression (over fixed characters only: nothing from a request)."""
    expr = f"lower({column})"
    for old, new in _FOLDS:
        quoted = new.replace("'", "''")
        expr = f"replace({expr}, '{old}', '{quoted}')"
    for gone in _DROPS:
        expr = f"replace({expr}, '{gone}', '')"
    return expr


_NORMALISED_TEXT = _normalised_sql("coalesce(d.title, '') || ' ' || d.text")


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the warehouse has this table (a warehouse made before a migration lacks its tables)."""
    return bool(con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [name]).fetchall())


# -- documents ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DocumentFilter:
    """What `search_documents` narrows to; every field optional."""

    q: str | None = None
    narrative: str | None = None
    lang: str | None = None
    source: str | None = None
    stance: str | None = None
    since: date | None = None
    limit: int = 50
    offset: int = 0


def search_documents(con: duckdb.DuckDBPyConnection, f: DocumentFilter) -> list[dict[str, Any]]:
    """Documents matching the filter, newest first, with their narratives (and a parent matches its children).

    `q` is split on whitespace; every term must occur in the normalised title or text.
    """
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    for term in normalise_for_search(f.q or "").split():
        clauses.append(f"contains({_NORMALISED_TEXT}, ?)")
        params.append(term)
    if f.lang:
        clauses.append("d.lang = ?")
        params.append(f.lang)
    if f.source:
        clauses.append("d.source_id = ?")
        params.append(f.source)
    if f.since:
        clauses.append("d.published_at >= ?")
        params.append(f.since)
    if f.narrative or f.stance:
        det = ["det.document_id = d.id"]
        if f.narrative:
            det.append("(det.narrative = ? OR det.narrative LIKE ? || '.%')")
            params += [f.narrative, f.narrative]
        if f.stance:
            det.append("det.stance = ?")
            params.append(f.stance)
        clauses.append(f"EXISTS (SELECT 1 FROM detections det WHERE {' AND '.join(det)})")  # noqa: S608 - fixed clauses with placeholders
    params += [f.limit, f.offset]
    cur = con.execute(
        f"""SELECT d.id, d.source_id, d.published_at, d.lang, d.script, d.title, d.url, d.stance,
                   left(d.text, 240) AS excerpt,
                   (SELECT list(det.narrative ORDER BY det.score DESC) FROM detections det
                    WHERE det.document_id = d.id) AS narratives
            FROM documents d WHERE {' AND '.join(clauses)}
            ORDER BY d.published_at DESC NULLS LAST, d.id LIMIT ? OFFSET ?""",  # noqa: S608 - fixed clauses
        params,
    )
    return _rows(cur)


class DocumentIdError(LookupError):
    """No document, or more than one, has this id or id prefix."""


def resolve_document_id(con: duckdb.DuckDBPyConnection, prefix: str) -> str:
    """The one document id equal to or starting with `prefix`.

    Raises:
        DocumentIdError: none matches, or several do (the message names a few).
    """
    prefix = prefix.strip()
    if not prefix:
        raise DocumentIdError("an empty document id")
    exact = con.execute("SELECT id FROM documents WHERE id = ?", [prefix]).fetchall()
    if exact:
        return str(exact[0][0])
    found = [r[0] for r in con.execute(
        "SELECT id FROM documents WHERE starts_with(id, ?) ORDER BY id LIMIT 4", [prefix]).fetchall()]
    if not found:
        raise DocumentIdError(f"no document with id {prefix!r}")
    if len(found) > 1:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise DocumentIdError(f"document id prefix {prefix!r} is ambiguous ({shown}); give more characters")
    return str(found[0])


def get_document(con: duckdb.DuckDBPyConnection, document_id: str) -> dict[str, Any] | None:
    """One document with its detections (best first) and the analysts' verdicts on it; None when unknown."""
    rows = _rows(con.execute(
        """SELECT id, source_id, external_id, url, title, text, author, forwarded_from, published_at, fetched_at,
                  content_hash, lang, script, lang_confidence, lang_mix, stance, classified_with, run_id
           FROM documents WHERE id = ?""", [document_id]))
    if not rows:
        return None
    doc = rows[0]
    doc["lang_mix"] = json.loads(doc["lang_mix"]) if doc["lang_mix"] else {}
    doc["detections"] = _rows(con.execute(
        """SELECT narrative, score, stance, evidence, model_version, detected_at FROM detections
           WHERE document_id = ? ORDER BY score DESC, narrative""", [document_id]))
    doc["labels"] = _rows(con.execute(
        """SELECT narrative, verdict, stance, analyst, labelled_at FROM analyst_labels
           WHERE document_id = ? ORDER BY labelled_at""", [document_id]))
    doc["duplicates"] = int(con.execute(
        "SELECT count(*) - 1 FROM documents WHERE content_hash = ?", [doc["content_hash"]]).fetchall()[0][0])
    # The other members of its message (translations and reposts, `pmon.warehouse.links`), English first: what a
    # reader of one language follows to understand the others.
    doc["message"] = [] if not _has_table(con, "message_links") else _rows(con.execute(
        """SELECT d.id, d.lang, d.source_id, d.title, m.lag_hours FROM message_links m
           JOIN documents d ON d.id = m.document_id
           WHERE m.group_id = (SELECT group_id FROM message_links WHERE document_id = ?) AND m.document_id <> ?
           ORDER BY d.lang <> 'en', m.lag_hours, d.id""", [document_id, document_id]))
    return doc


def similar_documents(con: duckdb.DuckDBPyConnection, document_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """"More like this": the documents nearest to this one by their document vectors, in any language, best first.

    The vectors are those the message linker keeps (`message_vectors`: the mean of a document's sentence
    embeddings, one encoder), so documents stored before linking existed, or not linked yet, have none: then [].
    """
    if not _has_table(con, "message_vectors"):
        return []
    own = con.execute("SELECT model, vector FROM message_vectors WHERE document_id = ?", [document_id]).fetchall()
    if not own:
        return []
    model, vector = own[0]
    return _rows(con.execute(
        """SELECT d.id, d.lang, d.source_id, d.title, d.published_at,
                  round(list_cosine_similarity(v.vector, ?::FLOAT[]), 4) AS similarity
           FROM message_vectors v JOIN documents d ON d.id = v.document_id
           WHERE v.model = ? AND v.document_id <> ?
           ORDER BY similarity DESC, d.id LIMIT ?""", [vector, model, document_id, limit]))


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the table exists: a warehouse opened read-only is not migrated, so a newer table may be missing."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchall()[0][0])


def list_detections(
    con: duckdb.DuckDBPyConnection, narrative: str | None = None, lang: str | None = None,
    stance: str | None = None, since: date | None = None, limit: int = 100,
) -> list[dict[str, Any]]:
    """Detections with their document's source, language and date, newest documents first."""
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if narrative:
        clauses.append("(det.narrative = ? OR det.narrative LIKE ? || '.%')")
        params += [narrative, narrative]
    if lang:
        clauses.append("d.lang = ?")
        params.append(lang)
    if stance:
        clauses.append("det.stance = ?")
        params.append(stance)
    if since:
        clauses.append("d.published_at >= ?")
        params.append(since)
    params.append(limit)
    return _rows(con.execute(
        f"""SELECT det.document_id, det.narrative, round(det.score, 3) AS score, det.stance, det.evidence,
                   d.source_id, d.lang, d.published_at, det.model_version
            FROM detections det JOIN documents d ON d.id = det.document_id
            WHERE {' AND '.join(clauses)}
            ORDER BY d.published_at DESC NULLS LAST, det.document_id, det.narrative LIMIT ?""",  # noqa: S608
        params))


# -- narratives --------------------------------------------------------------------------------------------------
def narrative_summary(con: duckdb.DuckDBPyConnection, narrative: str, since: date, limit: int = 50) -> dict[str, Any]:
    """A narrative's weekly documents per language and per source, its stance counts and latest documents."""
    by_lang = _rows(con.execute(
        """SELECT CAST(date_trunc('week', day) AS DATE) AS week, lang, CAST(sum(documents) AS BIGINT) AS documents
           FROM narrative_daily WHERE narrative = ? AND day >= ? GROUP BY ALL ORDER BY ALL""", [narrative, since]))
    by_source = _rows(con.execute(
        """SELECT source_id, CAST(sum(documents) AS BIGINT) AS documents, CAST(sum(promote) AS BIGINT) AS promote
           FROM narrative_daily WHERE narrative = ? AND day >= ? GROUP BY ALL ORDER BY documents DESC, source_id""",
        [narrative, since]))
    stances = dict(con.execute(
        """SELECT det.stance, count(DISTINCT det.document_id) FROM detections det
           WHERE det.narrative = ? OR det.narrative LIKE ? || '.%' GROUP BY ALL""", [narrative, narrative]).fetchall())
    documents = _rows(con.execute(
        """SELECT d.id, d.source_id, d.published_at, d.lang, d.title, d.url, det.narrative, det.stance,
                  round(det.score, 3) AS score, det.evidence
           FROM detections det JOIN documents d ON d.id = det.document_id
           WHERE det.narrative = ? OR det.narrative LIKE ? || '.%'
           ORDER BY d.published_at DESC NULLS LAST, d.id LIMIT ?""", [narrative, narrative, limit]))
    return {"by_lang": by_lang, "by_source": by_source, "stances": stances, "documents": documents}


def narrative_weekly(con: duckdb.DuckDBPyConnection, since: date) -> list[dict[str, Any]]:
    """Weekly narrative documents per narrative × language from `since` (the overview's charts)."""
    return _rows(con.execute(
        """SELECT week, narrative, lang, CAST(sum(documents) AS BIGINT) AS documents FROM narrative_weekly
           WHERE week >= CAST(date_trunc('week', ?::DATE) AS DATE) GROUP BY ALL ORDER BY ALL""", [since]))


# -- runs, sources, quarantine -----------------------------------------------------------------------------------
def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    """The latest run records, newest first, with stage seconds, per-source results and errors decoded."""
    rows = _rows(con.execute(
        """SELECT run_id, flow, started_at, finished_at, status, documents_new, detections_new, quarantined,
                  stage_seconds, sources, errors
           FROM runs ORDER BY started_at DESC LIMIT ?""", [limit]))
    for row in rows:
        for key in ("stage_seconds", "sources", "errors"):
            row[key] = json.loads(row[key]) if row[key] else ({} if key == "stage_seconds" else [])
        finished = row["finished_at"]
        row["seconds"] = round((finished - row["started_at"]).total_seconds(), 1) if finished else None
    return rows


def quarantine_counts(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Quarantined items per source and stage."""
    return _rows(con.execute(
        """SELECT source_id, stage, count(*) AS items, max(last_seen_at) AS last_seen_at FROM quarantine
           GROUP BY ALL ORDER BY items DESC, source_id"""))


def source_health(
    con: duckdb.DuckDBPyConnection, today: date | None = None, silent_days: int = 3
) -> list[dict[str, Any]]:
    """Per source: kind, documents, the last 7 days' documents, newest publication, quarantined, and `silent` when
    nothing was published for `silent_days` while the source had documents before."""
    today = today or utcnow().date()
    rows = _rows(con.execute(
        """SELECT s.id, s.kind, s.location, s.expected_langs, s.last_fetched_at, s.last_published_at,
                  coalesce((SELECT sum(documents) FROM doc_daily dd WHERE dd.source_id = s.id), 0) AS documents,
                  coalesce((SELECT sum(documents) FROM doc_daily dd WHERE dd.source_id = s.id AND dd.day > ?), 0)
                      AS last_7_days,
                  (SELECT max(day) FROM doc_daily dd WHERE dd.source_id = s.id) AS last_day,
                  (SELECT count(*) FROM quarantine q WHERE q.source_id = s.id) AS quarantined
           FROM sources s ORDER BY s.id""", [today - timedelta(days=7)]))
    for row in rows:
        row["documents"], row["last_7_days"] = int(row["documents"]), int(row["last_7_days"])
        row["silent"] = bool(row["documents"] and row["last_day"] and (today - row["last_day"]).days >= silent_days)
    return rows


# -- alerts and what analysts did with them ----------------------------------------------------------------------
def alert_actions(con: duckdb.DuckDBPyConnection, alert_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored action per alert id (only those that have one)."""
    if not alert_ids or not has_table(con, "alert_actions"):
        return {}
    rows = _rows(con.execute(
        "SELECT alert_id, action, analyst, acted_at FROM alert_actions WHERE alert_id IN (SELECT unnest(?))",
        [list(alert_ids)]))
    return {row["alert_id"]: row for row in rows}


def record_alert_action(
    con: duckdb.DuckDBPyConnection, alert_id: str, action: str, analyst: str | None = None,
    acted_at: datetime | None = None,
) -> None:
    """Store (or replace) what an analyst did with an alert.

    Raises:
        ValueError: unknown action or alert.
    """
    if action not in ALERT_ACTIONS:
        raise ValueError(f"action must be one of {ALERT_ACTIONS}, not {action!r}")
    if not con.execute("SELECT 1 FROM alerts WHERE id = ?", [alert_id]).fetchall():
        raise ValueError(f"no alert {alert_id!r} in this warehouse")
    con.execute(
        """INSERT INTO alert_actions VALUES (?, ?, ?, ?) ON CONFLICT (alert_id) DO UPDATE SET
               action = excluded.action, analyst = excluded.analyst, acted_at = excluded.acted_at""",
        [alert_id, action, analyst, acted_at or utcnow()])


def alert_exists(con: duckdb.DuckDBPyConnection, alert_id: str) -> bool:
    """Whether an alert with this id is stored."""
    return bool(con.execute("SELECT 1 FROM alerts WHERE id = ?", [alert_id]).fetchall())


def document_exists(con: duckdb.DuckDBPyConnection, document_id: str) -> bool:
    """Whether a document with this id is stored."""
    return bool(con.execute("SELECT 1 FROM documents WHERE id = ?", [document_id]).fetchall())


# -- the review queue --------------------------------------------------------------------------------------------
def review_queue(
    con: duckdb.DuckDBPyConnection, threshold: float, margin: float = 0.25, limit: int = 50,
    exclude: Sequence[tuple[str, str]] = (),
) -> list[dict[str, Any]]:
    """Low-confidence detections nobody judged yet, identical texts grouped (one entry per text × narrative).

    Same selection as `pmon.warehouse.labels.low_confidence`; `document_ids` lists every document of the group
    (a verdict applies to all of them); `exclude` drops (document_id, narrative) pairs already judged elsewhere
    (verdicts waiting to be written).
    """
    rows = _rows(con.execute(
        """SELECT d.content_hash, det.narrative, min(det.score) AS score, any_value(det.stance) AS stance,
                  list(det.document_id ORDER BY d.published_at DESC, det.document_id) AS document_ids,
                  any_value(d.lang) AS lang
           FROM detections det JOIN documents d ON d.id = det.document_id
           LEFT JOIN analyst_labels l ON l.document_id = det.document_id AND l.narrative = det.narrative
           WHERE l.document_id IS NULL AND det.score - ? <= ?
           GROUP BY d.content_hash, det.narrative
           ORDER BY min(det.score), min(det.document_id) LIMIT ?""",
        [threshold, margin, limit + len(exclude)]))
    skip = set(exclude)
    kept = []
    for row in rows:
        row["document_ids"] = [d for d in row["document_ids"] if (d, row["narrative"]) not in skip]
        if row["document_ids"]:
            row["document_id"] = row["document_ids"][0]
            row["score"] = round(row["score"], 3)
            kept.append(row)
    return kept[:limit]
