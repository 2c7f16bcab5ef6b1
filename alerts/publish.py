"""One digest, start to finish: evaluate alerts → build the digest → keep it → deliver it everywhere asked.

`pmon digest` and the scheduled `digest` flow both call `publish_digest`, so they behave the same: deliveries
left failed by an earlier run are retried first, a digest already delivered to a place is not sent there again,
and the report says what failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pmon.alerts.delivery import (
    DeliveryResult,
    DeliverySettings,
    Target,
    deliver,
    digest_files,
    parse_target,
    retry_failed,
    store_digest,
)
from pmon.alerts.digest import build_digest, chart_file_name, digest_stem, render_html, render_markdown
from pmon.alerts.rules import Alert, AlertSettings, evaluate_alerts

if TYPE_CHECKING:
    from pmon.classifiers.encoders import Encoder

__all__ = ["PublishReport", "publish_digest"]


@dataclass
class PublishReport:
    """What `publish_digest` did."""

    digest_id: str
    title: str
    alerts: int
    new_alerts: list[Alert]
    deliveries: list[DeliveryResult]
    retried: list[DeliveryResult] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> list[DeliveryResult]:
        """Deliveries (this digest's and retried older ones) that still failed after all attempts."""
        return [r for r in [*self.retried, *self.deliveries] if r.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "digest_id": self.digest_id,
            "title": self.title,
            "alerts": self.alerts,
            "new_alerts": [a.id for a in self.new_alerts],
            "files": {k: str(v) for k, v in self.files.items()},
            "deliveries": [r.__dict__ for r in self.deliveries],
            "retried": [r.__dict__ for r in self.retried],
            "failed": len(self.failed),
        }


def publish_digest(
    con: duckdb.DuckDBPyConnection,
    since: date,
    out_dir: Path | None = None,
    targets: Sequence[Target] = (),
    *,
    evaluate: bool = True,
    now: datetime | None = None,
    alert_settings: AlertSettings | None = None,
    delivery_settings: DeliverySettings | None = None,
    encoder: Encoder | None = None,
) -> PublishReport:
    """Evaluate alerts, build the digest of `since`..today, store it and deliver it.

    Args:
        con: a read-write warehouse connection.
        since: first day of the digest's window.
        out_dir: write Markdown (+ chart PNGs), HTML and JSON here (a `file` delivery); None: no files.
        targets: further deliveries (`pmon.alerts.delivery.parse_target`).
        evaluate: run the alert rules first (idempotent); False lists only alerts stored earlier.
        now: naive UTC now (default: the current time).
        alert_settings: rule settings (default: from `PMON_ALERTS_*`).
        delivery_settings: attempts and back-off (default: from `PMON_DELIVERY_*`).
        encoder: for the emerging rule (default: loaded when needed).

    Returns:
        A `PublishReport`; `report.failed` lists the deliveries that failed after every attempt.
    """
    alert_settings = alert_settings or AlertSettings()
    new_alerts = evaluate_alerts(con, alert_settings, now=now, encoder=encoder) if evaluate else []
    digest = build_digest(con, since, now=now, settings=alert_settings)
    stem = digest_stem(digest.window_start, digest.window_end)
    markdown = render_markdown(digest, {chart.name: chart_file_name(stem, chart.name) for chart in digest.charts})
    stored = store_digest(con, digest, markdown, render_html(digest))
    retried = retry_failed(con, delivery_settings)
    all_targets = [parse_target("file", str(out_dir))] if out_dir is not None else []
    all_targets += list(targets)
    results = deliver(con, stored, all_targets, delivery_settings)
    files = digest_files(stored, Path(all_targets[0].address)) if out_dir is not None else {}
    return PublishReport(
        digest_id=digest.id, title=digest.title, alerts=len(digest.alerts), new_alerts=new_alerts,
        deliveries=results, retried=retried, files=files,
    )
