"""The `digest` flow: evaluate alerts → build the digest → deliver it (files, e-mail, webhook).

Scheduled by `pmon serve` (daily and weekly by default). A delivery that still fails after its own retries
(alerts.delivery) fails the flow run, so Prefect shows it and retries the run; the retry re-sends only what
failed, since the digest and its deliveries are recorded in the warehouse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pmon.flows import settings as _settings  # noqa: F401 - before prefect

# isort: split
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pmon.settings import DEFAULT_DB


class DeliveryFailed(RuntimeError):
    """At least one delivery of the digest failed after every attempt."""


@task(cache_policy=NO_CACHE)
def publish(
    db_path: str, since: str, out_dir: str | None, email: list[str], smtp: str | None, webhook: list[str],
    wait_seconds: float,
) -> dict[str, Any]:
    """Evaluate alerts, then build, store and deliver the digest of the window."""
    from pmon.alerts.delivery import parse_target
    from pmon.alerts.publish import publish_digest
    from pmon.warehouse import Warehouse, parse_since

    targets = [parse_target("email", address, smtp) for address in email]
    targets += [parse_target("webhook", url) for url in webhook]
    with Warehouse.open(db_path, wait_seconds=wait_seconds, purpose="digest") as wh:
        report = publish_digest(wh.con, parse_since(since), Path(out_dir) if out_dir else None, targets)
    return report.as_dict()


@flow(name="digest", retries=2, retry_delay_seconds=300, log_prints=False)
def digest(
    db_path: str = str(DEFAULT_DB),
    since: str = "7d",
    out_dir: str | None = "data/digests",
    email: list[str] | None = None,
    smtp: str | None = None,
    webhook: list[str] | None = None,
    wait_seconds: float = 600.0,
) -> dict[str, Any]:
    """Publish the digest of the last `since` ('1d', '7d', an ISO date) of a warehouse.

    Args:
        db_path: the DuckDB warehouse.
        since: the window, as `pmon digest --since`.
        out_dir: where Markdown, HTML and JSON are written (None: no files).
        email: addresses to mail the digest to (needs `smtp`).
        smtp: the SMTP server as HOST:PORT.
        webhook: URLs that receive Slack-compatible JSON.
        wait_seconds: how long to wait for a monitoring run that holds the warehouse.

    Raises:
        DeliveryFailed: a delivery failed after all its attempts (the run is then retried).
    """
    from pmon.flows.serve import warehouse_slot

    with warehouse_slot(db_path, timeout_seconds=wait_seconds):
        report = publish(db_path, since, out_dir, email or [], smtp, webhook or [], wait_seconds)
    failed = [d for d in [*report["retried"], *report["deliveries"]] if d["status"] == "failed"]
    if failed:
        raise DeliveryFailed("; ".join(f"{d['channel']} {d['target']}: {d['error']}" for d in failed))
    return report
