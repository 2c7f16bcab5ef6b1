"""The DuckDB warehouse: one file, versioned migrations applied on open, idempotent upserts.

Every write of documents goes with its detections in one transaction, so a run killed at any point leaves
either a whole batch or none of it; the next run picks up what is missing (documents not yet classified,
sources whose conditional-GET state was not saved).

One writer at a time: `Warehouse.open` takes the advisory lock `<db>.lock` (see `pmon.warehouse.lock`) and waits
for the writer that holds it; readers open read-only and wait, too, while a writer has the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pmon.schemas.detections import Classification
from pmon.schemas.documents import QuarantinedItem, RawItem, identity
from pmon.schemas.language import LanguageResult
from pmon.schemas.sources import SourceConfig
from pmon.settings import DEFAULT_DB
from pmon.warehouse.lock import WarehouseBusy, WriterLock
from pmon.warehouse.transactions import transaction
from pmon.warehouse.trends import record_new_documents

#: Test hook for crash safety, read only by `crash_point`: "<stage>:<n>" kills the process the n-th time.
CRASH_ENV = "PMON_TEST_CRASH_AT"
_crash_counts: dict[str, int] = {}
#: `save_fetch_state` without a newest publication time: look it up in `documents`.
_SCAN = object()
#: Ids per `existing_ids` query: a short IN list of bound values is answered from the primary-key index.
_ID_LOOKUP_CHUNK = 1000


def crash_point(stage: str) -> None:
    """Crash-safety test hook: with PMON_TEST_CRASH_AT=<stage>:<n> set, the n-th arrival at `stage` is fatal.

    The process is killed with SIGKILL (no `finally`, no `atexit`, no flush): what an OOM killer or `kill -9`
    does. When the process leads its process group (a test starts it so), the whole group goes, as a
    container or systemd stop would take it: Prefect's temporary API server and Dask workers included.
    Without the variable this is a dictionary lookup and nothing else.

    Stages: `fetched` (after a source's fetch), `dedupe` (after a source's dedupe and quarantine), `commit`
    (inside a batch's transaction, before COMMIT), `stored` (after a batch's commit), `reclassified`,
    `fetch-state` (after a source's conditional-GET state is saved), `trends` (before the trend refresh),
    `finish` (before the run record is written).
    """
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition(":")
    if wanted != stage:
        return
    _crash_counts[stage] = _crash_counts.get(stage, 0) + 1
    if _crash_counts[stage] >= int(nth or 1):
        # Said on stderr first, so a test can tell this kill from any other.
        os.write(2, f"\n{CRASH_ENV}: killed at {stage}:{_crash_counts[stage]}\n".encode())
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


def _storable(value: str | None) -> str | None:
    """Text DuckDB accepts whatever ingestion let through: no NUL, no lone surrogates."""
    if value is None:
        return None
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def utcnow() -> datetime:
    """Naive UTC now: the warehouse stores naive UTC timestamps throughout."""
    return datetime.now(UTC).replace(tzinfo=None)


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped in warehouse/migrations, in order."""
    found = []
    for entry in resources.files("pmon.warehouse.migrations").iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations this connection's database has not seen; returns their names."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utcnow()])
        applied.append(name)
    return applied


@dataclass
class StoredBatch:
    """What one `store_batch` call added."""

    documents: int
    detections: int


def _connect(path: Path, *, read_only: bool, deadline: float, busy: str) -> duckdb.DuckDBPyConnection:
    """Connect, retrying while another process holds DuckDB's own file lock, until `deadline`."""
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(busy) from exc
            time.sleep(0.25)


class Warehouse:
    """A DuckDB warehouse file (or ':memory:').

    Example:
        >>> with Warehouse.open(":memory:") as wh:
        ...     wh.count("documents")
        0
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None, lock: WriterLock | None) -> None:
        self.con = con
        self.path = path
        self._lock = lock

    # -- opening -----------------------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, path: str | Path = DEFAULT_DB, *, read_only: bool = False, wait_seconds: float = 0.0,
        purpose: str = "write",
    ) -> Warehouse:
        """Open (creating and migrating as needed) a warehouse.

        Args:
            path: the DuckDB file, or ":memory:".
            read_only: open for queries only; no lock is taken and no migration applied.
            wait_seconds: how long to wait for another writer to finish before giving up (a reader waits
                for a writer too: DuckDB lets no other process in while one writes).
            purpose: recorded in the lock file so a blocked process can say who holds it.

        Raises:
            WarehouseBusy: another process is writing and did not finish within `wait_seconds`; the message
                names the holder when it is a pmon process.
            FileNotFoundError: read_only and the file does not exist.
        """
        if str(path) == ":memory:":
            con = duckdb.connect(":memory:")
            apply_migrations(con)
            return cls(con, None, None)
        path = Path(path)
        deadline = time.monotonic() + wait_seconds
        if read_only:
            if not path.exists():
                raise FileNotFoundError(f"no warehouse at {path}; run `pmon demo` or `pmon run` first")
            con = _connect(path, read_only=True, deadline=deadline,
                           busy=f"{path} is being written by a running job; try again when it has finished "
                                "(or pass a longer --wait)")
            return cls(con, path, None)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(path, wait_seconds=wait_seconds, purpose=purpose).acquire()
        try:
            con = _connect(path, read_only=False, deadline=deadline,
                           busy=f"{path} is open in another program that does not take pmon's lock (a DuckDB "
                                "shell or notebook?); close it there")
            apply_migrations(con)
        except BaseException:
            lock.release()
            raise
        return cls(con, path, lock)

    def close(self) -> None:
        """Close the connection and release the writer lock."""
        self.con.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self, table: str) -> int:
        """Rows in a table."""
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])  # noqa: S608 - internal names

    # -- sources -------------------------------------------------------------------------------------------------
    def upsert_sources(self, sources: Iterable[SourceConfig]) -> int:
        """Record the configured sources: new ones and changed configuration are written, fetch state is kept.

        Every run calls this with the whole sources file; one query reads what is stored and only sources whose
        configuration differs are written (one transaction), so a run over 500 unchanged sources writes nothing
        (it was one statement and commit per source: ~2 s). `updated_at` is when a source's configuration last
        changed.

        Returns:
            How many sources were inserted or updated.
        """
        rows = [(s.id, s.kind.value, s.location, list(s.expected_langs), list(s.tags), s.group, s.schedule)
                for s in sources]
        if not rows:
            return 0
        stored = {
            row[0]: row
            for row in self.con.execute(
                "SELECT id, kind, location, expected_langs, tags, grp, schedule FROM sources "
                "WHERE id IN (SELECT unnest(?))",
                [[row[0] for row in rows]],
            ).fetchall()
        }
        changed = [row for row in rows if stored.get(row[0]) != row]
        if not changed:
            return 0
        now = utcnow()
        with transaction(self.con):
            self.con.executemany(
                """
                INSERT INTO sources (id, kind, location, expected_langs, tags, grp, schedule, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, location = excluded.location,
                    expected_langs = excluded.expected_langs, tags = excluded.tags, grp = excluded.grp,
                    schedule = excluded.schedule, updated_at = excluded.updated_at
                """,
                [[*row, now] for row in changed],
            )
        return len(changed)

    def fetch_states(self, source_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """(ETag, Last-Modified) of many sources in one query; sources never fetched completely are left out."""
        if not source_ids:
            return {}
        rows = self.con.execute(
            "SELECT id, etag, last_modified FROM sources WHERE id IN (SELECT unnest(?))", [list(source_ids)]
        ).fetchall()
        return {row[0]: (row[1], row[2]) for row in rows}

    def save_fetch_state(
        self, source_id: str, etag: str | None, last_modified: str | None,
        newest_published_at: datetime | None | object = _SCAN,
    ) -> None:
        """Save conditional-GET state; call only once the source's items are stored.

        Args:
            newest_published_at: the newest publication time (naive UTC) among the items this fetch gave, None
                when it gave none: `last_published_at` moves forward to it and never back. Left out, the newest
                of the source's stored documents is looked up instead (a scan of `documents`).
        """
        if newest_published_at is _SCAN:
            self.con.execute(
                """UPDATE sources SET etag = ?, last_modified = ?, last_fetched_at = ?,
                       last_published_at = (SELECT max(published_at) FROM documents WHERE source_id = ?)
                   WHERE id = ?""",
                [etag, last_modified, utcnow(), source_id, source_id],
            )
            return
        newest = _naive_utc(newest_published_at)  # type: ignore[arg-type]
        self.con.execute(
            """UPDATE sources SET etag = ?, last_modified = ?, last_fetched_at = ?,
                   last_published_at = CASE WHEN last_published_at IS NULL OR last_published_at < ?::TIMESTAMP
                                            THEN coalesce(?::TIMESTAMP, last_published_at) ELSE last_published_at END
               WHERE id = ?""",
            [etag, last_modified, utcnow(), newest, newest, source_id],
        )

    # -- documents -----------------------------------------------------------------------------------------------
    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these document ids are already stored.

        A list of bound values (`id IN (?, ?, ...)`) is looked up in the primary-key index; `IN (SELECT
        unnest(?))` scanned all of `documents` (122 ms against 6 ms per 128 ids at 8.4M documents).
        """
        unique = list(dict.fromkeys(ids))
        found: set[str] = set()
        for start in range(0, len(unique), _ID_LOOKUP_CHUNK):
            part = unique[start : start + _ID_LOOKUP_CHUNK]
            rows = self.con.execute(
                f"SELECT id FROM documents WHERE id IN ({', '.join('?' * len(part))})", part  # noqa: S608 - placeholders
            ).fetchall()
            found.update(row[0] for row in rows)
        return found

    def unclassified(self, classifier_tag: str, limit: int = 100_000) -> list[dict[str, Any]]:
        """Stored documents not yet classified with this classifier (e.g. after a crash between batches)."""
        cur = self.con.execute(
            """SELECT id, source_id, title, text, lang, published_at FROM documents
               WHERE classified_with IS NULL OR classified_with <> ? ORDER BY id LIMIT ?""",
            [classifier_tag, limit],
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def store_batch(
        self,
        items: Sequence[RawItem],
        languages: Sequence[LanguageResult],
        classifications: Sequence[Classification],
        run_id: str,
        classifier_tag: str,
        ids: Sequence[str] | None = None,
        hashes: Sequence[str] | None = None,
        known_new: bool = False,
    ) -> StoredBatch:
        """Store documents with their language and narrative detections, all in one transaction.

        Documents already stored are left as they are (the first sighting wins), and so are their detections;
        an id twice in the batch is stored once. Returns what was actually added. What the new documents add to
        the trend aggregates is recorded for `refresh_trends` in the same transaction.

        Args:
            ids: the items' document ids, when the caller has them already (`pmon.schemas.documents.identity`).
            hashes: the items' content hashes, likewise.
            known_new: the caller has looked these ids up in this warehouse while holding the writer lock (the
                monitor flow's dedupe) and they are distinct: the lookup is not repeated. The primary key still
                refuses a stored id, and the whole batch is then rolled back.
        """
        if not (len(items) == len(languages) == len(classifications)):
            raise ValueError(
                f"store_batch: {len(items)} items, {len(languages)} languages and {len(classifications)} "
                "classifications; they must correspond one to one"
            )
        if not items:
            return StoredBatch(0, 0)
        if ids is None or hashes is None:
            pairs = [identity(i.source_id, i.full_text) for i in items]
            ids = ids if ids is not None else [p[0] for p in pairs]
            hashes = hashes if hashes is not None else [p[1] for p in pairs]
        if not (len(ids) == len(hashes) == len(items)):
            raise ValueError("store_batch: ids and hashes must correspond one to one with the items")
        now = utcnow()
        con = self.con
        registered: list[str] = []
        try:
            with transaction(con):
                # The flow is the only writer (the warehouse lock) and the lookup is inside this transaction: the ids
                # not found here are new, so plain INSERTs do (ON CONFLICT on a random key cost 180-250 ms a batch at
                # 8.4M documents); the primary keys still refuse a duplicate, rolling the whole batch back.
                known = set() if known_new else self.existing_ids(ids)
                keep: list[int] = []
                for index, doc_id in enumerate(ids):
                    if doc_id not in known:
                        known.add(doc_id)
                        keep.append(index)
                if not keep:
                    return StoredBatch(0, 0)
                docs = pa.table(
                    {
                        "id": [ids[k] for k in keep],
                        "source_id": [items[k].source_id for k in keep],
                        "external_id": [items[k].external_id for k in keep],
                        "url": [items[k].url for k in keep],
                        "title": [items[k].title for k in keep],
                        "text": [items[k].text for k in keep],
                        "author": [items[k].author for k in keep],
                        "forwarded_from": [items[k].forwarded_from for k in keep],
                        "published_at": pa.array(
                            [_naive_utc(items[k].published_at) or now for k in keep], pa.timestamp("us")
                        ),
                        "fetched_at": pa.array([now] * len(keep), pa.timestamp("us")),
                        "content_hash": [hashes[k] for k in keep],
                        "lang": [languages[k].lang for k in keep],
                        "script": [languages[k].script for k in keep],
                        "lang_confidence": [languages[k].confidence for k in keep],
                        "lang_mix": [json.dumps(languages[k].mix, ensure_ascii=False) for k in keep],
                        "stance": [classifications[k].stance.value for k in keep],
                        "classified_with": [classifier_tag] * len(keep),
                        "run_id": [run_id] * len(keep),
                        "variety": [languages[k].variety for k in keep],
                        "variety_confidence": [languages[k].variety_confidence for k in keep],
                    }
                )
                det_rows: dict[str, list[Any]] = {
                    k: [] for k in ("document_id", "narrative", "score", "stance", "evidence")
                }
                versions = ("", "")
                for k in keep:
                    cls = classifications[k]
                    versions = (cls.model_version, cls.codebook_version)
                    seen: set[str] = set()
                    for n in cls.narratives:
                        if n.id in seen:
                            continue
                        seen.add(n.id)
                        det_rows["document_id"].append(ids[k])
                        det_rows["narrative"].append(n.id)
                        det_rows["score"].append(n.score)
                        det_rows["stance"].append(cls.stance.value)
                        det_rows["evidence"].append(n.evidence)
                con.register("_docs", docs)
                registered.append("_docs")
                con.execute("INSERT INTO documents BY NAME SELECT * FROM _docs")
                if det_rows["document_id"]:
                    dets = pa.table({**det_rows, "evidence": pa.array(det_rows["evidence"], pa.list_(pa.string()))})
                    con.register("_dets", dets)
                    registered.append("_dets")
                    con.execute(
                        """INSERT INTO detections
                           SELECT d.document_id, d.narrative, d.score, d.stance, d.evidence, ?, ?, ?, ?
                           FROM _dets d""",
                        [versions[0], versions[1], now, run_id],
                    )
                record_new_documents(
                    con, "_docs", "_dets" if "_dets" in registered else "(SELECT * FROM detections LIMIT 0)"
                )
                crash_point("commit")
        finally:
            for name in registered:
                con.unregister(name)
        return StoredBatch(len(keep), len(det_rows["document_id"]))

    def replace_classifications(
        self, document_ids: Sequence[str], classifications: Sequence[Classification], run_id: str, classifier_tag: str
    ) -> int:
        """Re-label stored documents (after retraining or a crash): old detections replaced in one transaction."""
        now = utcnow()
        con = self.con
        with transaction(con):
            con.execute("DELETE FROM detections WHERE document_id IN (SELECT unnest(?))", [list(document_ids)])
            con.execute(
                """INSERT INTO trends_dirty SELECT DISTINCT CAST(published_at AS DATE), source_id FROM documents
                   WHERE id IN (SELECT unnest(?))""",
                [list(document_ids)],
            )
            added = 0
            for doc_id, cls in zip(document_ids, classifications, strict=True):
                con.execute(
                    "UPDATE documents SET stance = ?, classified_with = ? WHERE id = ?",
                    [cls.stance.value, classifier_tag, doc_id],
                )
                for n in cls.narratives:
                    con.execute(
                        "INSERT INTO detections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [doc_id, n.id, n.score, cls.stance.value, n.evidence, cls.model_version,
                         cls.codebook_version, now, run_id],
                    )
                    added += 1
        return added

    # -- quarantine ----------------------------------------------------------------------------------------------
    def quarantine(self, items: Iterable[QuarantinedItem], run_id: str | None) -> int:
        """Keep bad items with their reason; the same bad item seen again only bumps its counter."""
        now = utcnow()
        n = 0
        for q in items:
            # Reasons and payloads quote hostile input: make them storable before they reach DuckDB.
            payload = _storable((q.payload or "")[:20_000]) or ""
            reason, location = _storable(q.reason[:2000]) or "", _storable(q.location)
            key = f"{q.source_id}\x1f{q.stage}\x1f{reason}\x1f{location}\x1f{payload}"
            qid = hashlib.sha256(key.encode()).hexdigest()[:32]
            self.con.execute(
                """INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at,
                       times_seen = quarantine.times_seen + 1, run_id = excluded.run_id""",
                [qid, q.source_id, run_id, q.stage, reason, location, payload, now, now],
            )
            n += 1
        return n

    # -- runs ----------------------------------------------------------------------------------------------------
    def start_run(self, run_id: str, flow: str) -> None:
        """Record that a run started (a run killed later stays visible as 'running' → 'crashed' on next start)."""
        self.con.execute("UPDATE runs SET status = 'crashed' WHERE status = 'running'")
        self.con.execute(
            "INSERT INTO runs (run_id, flow, started_at, status) VALUES (?, ?, ?, 'running') ON CONFLICT DO NOTHING",
            [run_id, flow, utcnow()],
        )

    def finish_run(self, record: dict[str, Any]) -> None:
        """Write a run's counts, durations and errors."""
        self.con.execute(
            """UPDATE runs SET finished_at = ?, status = ?, documents_new = ?, detections_new = ?, quarantined = ?,
                   stage_seconds = ?, sources = ?, errors = ? WHERE run_id = ?""",
            [utcnow(), record["status"], record["documents_new"], record["detections_new"], record["quarantined"],
             json.dumps(record["stage_seconds"]), json.dumps(record["sources"]), json.dumps(record["errors"]),
             record["run_id"]],
        )
