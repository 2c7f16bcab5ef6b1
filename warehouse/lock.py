"""One writer at a time: an advisory lock file beside the DuckDB file.

DuckDB itself refuses a second read-write process with a terse IOException; this lock turns that into
"wait for the run that holds it, then go on" or a clear message naming the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse for writing and did not let go in time."""


class WriterLock:
    """Exclusive advisory lock on `<db>.lock`; released on close or when the process dies (even by SIGKILL)."""

    def __init__(self, db_path: Path, wait_seconds: float = 0.0, purpose: str = "write") -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self.wait_seconds = wait_seconds
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        """Take the lock, polling until `wait_seconds` have passed.

        Raises:
            WarehouseBusy: the lock is still held after the wait; the message names the holder.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise WarehouseBusy(
                        f"{self.path.with_suffix('')} is in use by {holder}; wait for it to finish, "
                        f"or pass a longer --wait"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "purpose": self.purpose, "since": datetime.now(UTC).isoformat(timespec="seconds")}
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.release()


def writer_holding(db_path: Path) -> str | None:
    """Who holds `db_path`'s writer lock now ("process 12 (monitor run ..., since ...)"), or None when nobody does.

    Only tries the lock (shared, without waiting), so it never blocks or disturbs the writer.
    """
    path = db_path.with_name(db_path.name + ".lock")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_holder(fd)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"process {info.get('pid', '?')} ({info.get('purpose', '?')}, since {info.get('since', '?')})"
    except (OSError, ValueError):
        return "another process"
