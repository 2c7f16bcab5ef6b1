"""Transactions on a warehouse connection, written once: every multi-statement write goes through `transaction`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """`with transaction(con):` — BEGIN, then COMMIT when the block ends (a `return` inside it included) or
    ROLLBACK when it raises, whatever it raises (a KeyboardInterrupt too)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def rollback_if_open(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back a transaction a failed step may have left open; nothing when none is."""
    with suppress(duckdb.TransactionException):  # raised when no transaction was open
        con.execute("ROLLBACK")
