"""Everything DuckDB: migrations, idempotent upserts, trend aggregates and queries, exports."""

from pmon.settings import DEFAULT_DB
from pmon.warehouse.lock import WarehouseBusy, WriterLock
from pmon.warehouse.store import StoredBatch, Warehouse, apply_migrations, utcnow
from pmon.warehouse.trends import (
    TrendQuery,
    TrendQueryError,
    TrendRefresh,
    TrendRows,
    compare_windows,
    parse_since,
    query_trends,
    refresh_trends,
)

__all__ = [
    "DEFAULT_DB",
    "StoredBatch",
    "TrendQuery",
    "TrendQueryError",
    "TrendRefresh",
    "TrendRows",
    "Warehouse",
    "WarehouseBusy",
    "WriterLock",
    "apply_migrations",
    "compare_windows",
    "parse_since",
    "query_trends",
    "refresh_trends",
    "utcnow",
]
