"""Reading and writing the warehouse from a long-lived process (`pmon ui`) while runs write it.

DuckDB lets no other process open a file that one process holds read-write, not even read-only, and a monitoring
run holds it for its whole length. So the UI:

* reads through short read-only connections, opened per request and closed at once (a run that starts meanwhile
  waits a moment in its own connect retry);
* keeps a snapshot copy of the file, taken while no run holds it (under pmon's writer lock, so no run starts
  mid-copy), and reads that while a run writes: pages stay up, a banner says since when the data are;
* never writes in a request: a verdict or an alert action is appended to an outbox (JSON lines beside the file,
  flushed and fsynced) and applied when the writer lock is free, by the request itself when it is free at once,
  otherwise by a background thread. Applying is idempotent (upserts), so a crash between commit and outbox
  truncation repeats nothing harmful, and nothing accepted is lost.

One process-wide gate serialises opening: DuckDB refuses, inside one process, a read-write connection to a file that
is open read-only (and the reverse).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from pmon.warehouse.lock import WarehouseBusy, WriterLock
from pmon.warehouse.store import Warehouse, utcnow


@dataclass(frozen=True)
class ReadInfo:
    """Where a read came from: the live file, or the snapshot taken at `as_of` while a run holds the file."""

    live: bool
    as_of: datetime | None = None


class WarehouseAccess:
    """Short reads, a snapshot for when a run writes, and an outbox of analyst actions.

    Args:
        db: the warehouse file (must exist).
        read_wait: seconds a read waits for the live file before falling back to the snapshot.
        apply_every: seconds between the background attempts to apply queued actions.
    """

    def __init__(self, db: Path, read_wait: float = 0.3, apply_every: float = 2.0) -> None:
        self.db = Path(db)
        if not self.db.exists():
            raise FileNotFoundError(f"no warehouse at {self.db}; run `pmon demo` or `pmon run` first, or check --db")
        self.read_wait = read_wait
        self.apply_every = apply_every
        self.snapshot = self.db.with_name(self.db.name + ".ui-snapshot")
        self.outbox = self.db.with_name(self.db.name + ".ui-outbox.jsonl")
        self._gate = threading.Lock()
        self._outbox_lock = threading.Lock()
        self._snapshot_of: tuple[float, int] | None = None
        self._snapshot_at: datetime | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.appliers: dict[str, Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], None]] = {}

    # -- reading -------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, ReadInfo]]:
        """A read-only connection to the live file, or to the snapshot while a run holds the file.

        Raises:
            WarehouseBusy: a run holds the file and no snapshot was taken yet.
        """
        with self._gate:
            try:
                wh = Warehouse.open(self.db, read_only=True, wait_seconds=self.read_wait)
                info = ReadInfo(live=True)
            except WarehouseBusy:
                if not self.snapshot.exists():
                    raise
                wh = Warehouse.open(self.snapshot, read_only=True)
                info = ReadInfo(live=False, as_of=self._snapshot_at)
            try:
                yield wh.con, info
            finally:
                wh.close()

    def refresh_snapshot(self) -> bool:
        """Copy the file to the snapshot if it changed since the last copy and no run holds it; True if copied."""
        stat = self.db.stat()
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._snapshot_of and self.snapshot.exists():
            return False
        try:
            lock = WriterLock(self.db, wait_seconds=0, purpose="pmon ui snapshot").acquire()
        except WarehouseBusy:
            return False
        try:
            with self._gate:
                if self.db.with_name(self.db.name + ".wal").exists():
                    # A writer died with its log unapplied: a read-write open replays it (we hold the lock).
                    Warehouse.open(self.db).close()
                partial = self.snapshot.with_name(self.snapshot.name + ".partial")
                shutil.copyfile(self.db, partial)
                os.replace(partial, self.snapshot)
                stat = self.db.stat()
                self._snapshot_of, self._snapshot_at = (stat.st_mtime, stat.st_size), utcnow()
        finally:
            lock.release()
        return True

    # -- writing through the outbox ------------------------------------------------------------------------------
    def submit(self, kind: str, payload: dict[str, Any]) -> bool:
        """Queue an action (durably) and try to apply the queue now; True when it is already in the warehouse."""
        if kind not in self.appliers:
            raise ValueError(f"unknown action kind {kind!r}")
        line = json.dumps({"kind": kind, "payload": payload, "queued_at": utcnow().isoformat()}, ensure_ascii=False)
        with self._outbox_lock, self.outbox.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        return self.apply_pending() == 0

    def pending(self) -> list[dict[str, Any]]:
        """Queued actions not yet in the warehouse, oldest first."""
        with self._outbox_lock:
            return self._read_outbox()

    def _read_outbox(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        entries = []
        for line in self.outbox.read_text(encoding="utf-8").splitlines():
            if line.strip():
                with contextlib.suppress(ValueError):  # a line cut by a crash mid-write was never acknowledged
                    entries.append(json.loads(line))
        return entries

    def apply_pending(self, wait_seconds: float = 0.2) -> int:
        """Apply every queued action in one transaction if the writer lock is free; returns how many still wait.

        An action the warehouse refuses (its document or alert gone) is dropped with the rest applied: it was
        validated when queued, so this happens only when the data changed underneath.
        """
        with self._outbox_lock:
            entries = self._read_outbox()
            if not entries:
                return 0
            try:
                with self._gate, Warehouse.open(self.db, wait_seconds=wait_seconds, purpose="pmon ui verdicts") as wh:
                    wh.con.execute("BEGIN TRANSACTION")
                    for entry in entries:
                        try:
                            self.appliers[entry["kind"]](wh.con, entry["payload"])
                        except (KeyError, ValueError):
                            continue
                    wh.con.execute("COMMIT")
            except WarehouseBusy:
                return len(entries)
            self.outbox.unlink()
            return 0

    # -- background work -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread that applies queued actions and refreshes the snapshot while no run writes."""
        if self._worker is not None:
            return
        self._stop.clear()
        self._worker = threading.Thread(target=self._loop, name="pmon-ui-warehouse", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop the background thread (queued actions stay in the outbox for the next start)."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
            self._worker = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(WarehouseBusy, OSError, duckdb.Error):
                self.apply_pending()
                self.refresh_snapshot()
            self._stop.wait(self.apply_every)

