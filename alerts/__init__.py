"""Alert rules (spike, spread, emerging, silence), digests and their delivery."""

from pmon.alerts.delivery import (
    DeliveryError,
    DeliveryResult,
    DeliverySettings,
    StoredDigest,
    Target,
    deliver,
    parse_target,
    retry_failed,
    slack_payload,
    store_digest,
)
from pmon.alerts.digest import Digest, build_digest, defang, escape_markdown, render_html, render_markdown, write_digest
from pmon.alerts.publish import PublishReport, publish_digest
from pmon.alerts.rules import (
    Alert,
    AlertKind,
    AlertSettings,
    Evidence,
    binomial_upper_tail,
    evaluate_alerts,
    list_alerts,
)

__all__ = [
    "Alert",
    "AlertKind",
    "AlertSettings",
    "DeliveryError",
    "DeliveryResult",
    "DeliverySettings",
    "Digest",
    "Evidence",
    "PublishReport",
    "StoredDigest",
    "Target",
    "binomial_upper_tail",
    "build_digest",
    "defang",
    "deliver",
    "escape_markdown",
    "evaluate_alerts",
    "list_alerts",
    "parse_target",
    "publish_digest",
    "render_html",
    "render_markdown",
    "retry_failed",
    "slack_payload",
    "store_digest",
    "write_digest",
]
