"""Delivering digests: to files, by e-mail over SMTP, to a webhook as Slack-compatible JSON.

Every delivery is a row of `deliveries` (its id is a hash of the digest, the channel and the target, so the same
digest is never sent twice to the same place) and every attempt a row of `delivery_attempts`. A failing attempt
is retried with exponential back-off (`attempts`, `backoff_seconds` × 1, 2, 4, …); a delivery that still fails
stays `failed` with its last error, is reported, and is tried again by the next `deliver` of the same digest or by
`retry_failed` (the digest itself is kept in the `digests` table, so nothing depends on files still existing).

Errors that cannot be cured by waiting (an HTTP 4xx other than 408/429, an SMTP address the server refuses) end
the attempts at once.

Example:
    >>> targets = [parse_target("webhook", "https://hooks.example/T000/B000/XXX")]    # doctest: +SKIP
    >>> results = deliver(con, stored, targets)                                       # doctest: +SKIP
    >>> [r.status for r in results]                                                   # doctest: +SKIP
    ['delivered']
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Literal

import duckdb
import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pmon.alerts.digest import Digest, chart_file_name, charts_from_html, defang, digest_stem

__all__ = [
    "DeliveryError",
    "DeliveryResult",
    "DeliverySettings",
    "StoredDigest",
    "Target",
    "deliver",
    "digest_files",
    "email_message",
    "load_digest",
    "parse_target",
    "retry_failed",
    "slack_payload",
    "store_digest",
]


class DeliverySettings(BaseSettings):
    """How deliveries are made and retried; each field can be set as `PMON_DELIVERY_<FIELD>`.

    Example:
        >>> DeliverySettings(attempts=5, backoff_seconds=10).attempts
        5
    """

    model_config = SettingsConfigDict(env_prefix="PMON_DELIVERY_", extra="ignore")

    attempts: int = Field(default=3, ge=1, le=20, description="attempts per delivery before it is reported failed")
    backoff_seconds: float = Field(
        default=5.0, ge=0.0, description="wait before the 2nd attempt; doubled before each further one"
    )
    timeout_seconds: float = Field(default=20.0, gt=0, description="network timeout of one attempt")
    smtp_from: str = Field(default="pmon@localhost", description="From: address of digest e-mails")
    smtp_user: str | None = Field(default=None, description="SMTP login user (none: no login)")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP login password")
    smtp_starttls: bool = Field(default=False, description="upgrade the SMTP connection with STARTTLS")
    smtp_ssl: bool = Field(default=False, description="connect with implicit TLS (SMTPS, usually port 465)")


class DeliveryError(Exception):
    """One attempt failed. `permanent` errors are not retried."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Target:
    """Where a digest goes: `file` (a folder), `email` (addresses, via an SMTP host:port) or `webhook` (a URL)."""

    channel: Literal["file", "email", "webhook"]
    address: str
    smtp: str | None = None

    @property
    def key(self) -> str:
        """The target as recorded in `deliveries.target`."""
        return f"{self.address} via {self.smtp}" if self.channel == "email" else self.address


def parse_target(channel: str, address: str, smtp: str | None = None) -> Target:
    """Check and build a target.

    Raises:
        ValueError: unknown channel, an e-mail target without `HOST:PORT`, a webhook URL that is not http(s).
    """
    if channel == "file":
        return Target("file", str(Path(address).resolve()))
    if channel == "email":
        if not smtp or ":" not in smtp or not smtp.rsplit(":", 1)[1].isdigit():
            raise ValueError(f"--smtp: expected HOST:PORT for e-mail delivery, got {smtp!r}")
        if "@" not in address:
            raise ValueError(f"--email: expected an address like analyst@example.org, got {address!r}")
        return Target("email", address, smtp)
    if channel == "webhook":
        if not address.startswith(("http://", "https://")):
            raise ValueError(f"--webhook: expected an http(s) URL, got {address!r}")
        return Target("webhook", address)
    raise ValueError(f"unknown delivery channel {channel!r}; expected file, email or webhook")


@dataclass(frozen=True)
class StoredDigest:
    """A digest as kept in the `digests` table: enough to deliver it again later."""

    id: str
    title: str
    window_start: date
    window_end: date
    markdown: str
    html: str
    summary: dict[str, Any]


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one delivery after all its attempts (in this call)."""

    delivery_id: str
    digest_id: str
    channel: str
    target: str
    status: Literal["delivered", "failed", "skipped"]
    attempts: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Delivered now or before."""
        return self.status != "failed"


def _utcnow() -> datetime:
    from pmon.warehouse.store import utcnow

    return utcnow()


# -- the digests table -------------------------------------------------------------------------------------------
def store_digest(con: duckdb.DuckDBPyConnection, digest: Digest, markdown: str, html: str) -> StoredDigest:
    """Keep a rendered digest (once per id) so that its deliveries can be retried from the warehouse alone."""
    summary = digest.summary()
    con.execute(
        """INSERT INTO digests (id, window_start, window_end, alert_ids, title, markdown, html, summary, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING""",
        [digest.id, digest.window_start, digest.window_end, json.dumps([a.id for a in digest.alerts]), digest.title,
         markdown, html, json.dumps(summary, ensure_ascii=False, default=str), _utcnow()],
    )
    return StoredDigest(digest.id, digest.title, digest.window_start, digest.window_end, markdown, html, summary)


def load_digest(con: duckdb.DuckDBPyConnection, digest_id: str) -> StoredDigest:
    """A stored digest by id.

    Raises:
        KeyError: no such digest.
    """
    rows = con.execute(
        "SELECT id, title, window_start, window_end, markdown, html, summary FROM digests WHERE id = ?", [digest_id]
    ).fetchall()
    if not rows:
        raise KeyError(f"no digest {digest_id!r} in the warehouse")
    r = rows[0]
    return StoredDigest(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))


# -- delivering --------------------------------------------------------------------------------------------------
def _delivery_id(digest_id: str, target: Target) -> str:
    return hashlib.sha256(f"{digest_id}\x1f{target.channel}\x1f{target.key}".encode()).hexdigest()[:32]


def deliver(
    con: duckdb.DuckDBPyConnection,
    digest: StoredDigest,
    targets: Sequence[Target],
    settings: DeliverySettings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryResult]:
    """Deliver a stored digest to each target, unless it was delivered there before.

    Args:
        con: a read-write warehouse connection (each attempt is recorded).
        digest: from `store_digest` or `load_digest`.
        targets: from `parse_target`.
        settings: attempts, back-off, timeouts, SMTP login (default: from `PMON_DELIVERY_*`).
        sleep: how to wait between attempts.

    Returns:
        One result per target: `delivered`, `skipped` (delivered before) or `failed` (after all attempts).
    """
    settings = settings or DeliverySettings()
    return [_deliver_one(con, digest, target, settings, sleep) for target in targets]


def retry_failed(
    con: duckdb.DuckDBPyConnection,
    settings: DeliverySettings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryResult]:
    """Try again every delivery left `failed` or `pending` by an earlier run (oldest first)."""
    settings = settings or DeliverySettings()
    rows = con.execute(
        """SELECT subject, channel, target FROM deliveries
           WHERE status IN ('failed', 'pending') AND subject IN (SELECT id FROM digests) ORDER BY created_at"""
    ).fetchall()
    results = []
    for digest_id, channel, key in rows:
        address, _, smtp = key.partition(" via ") if channel == "email" else (key, "", "")
        target = Target(channel, address, smtp or None)
        results.append(_deliver_one(con, load_digest(con, digest_id), target, settings, sleep))
    return results


def _deliver_one(
    con: duckdb.DuckDBPyConnection, digest: StoredDigest, target: Target, settings: DeliverySettings,
    sleep: Callable[[float], None],
) -> DeliveryResult:
    delivery_id = _delivery_id(digest.id, target)
    rows = con.execute("SELECT status, attempts FROM deliveries WHERE id = ?", [delivery_id]).fetchall()
    # Files are rewritten every time (cheap, and someone may have deleted them); messages are sent once.
    if rows and rows[0][0] == "delivered" and target.channel != "file":
        return DeliveryResult(delivery_id, digest.id, target.channel, target.key, "skipped", 0)
    previous = int(rows[0][1]) if rows else 0
    if not rows:
        con.execute(
            "INSERT INTO deliveries (id, subject, channel, target, status, attempts, created_at) "
            "VALUES (?, ?, ?, ?, 'pending', 0, ?)",
            [delivery_id, digest.id, target.channel, target.key, _utcnow()],
        )
    send = _SENDERS[target.channel]
    error: str | None = None
    attempts = 0
    for attempt in range(1, settings.attempts + 1):
        if attempt > 1:
            sleep(settings.backoff_seconds * 2 ** (attempt - 2))
        attempts = attempt
        number = previous + attempt
        try:
            send(digest, target, settings)
        except DeliveryError as exc:
            error = str(exc)
            _record_attempt(
                con, delivery_id, number, ok=False, error=error, final=exc.permanent or attempt == settings.attempts
            )
            if exc.permanent:
                break
            continue
        _record_attempt(con, delivery_id, number, ok=True, error=None, final=True)
        return DeliveryResult(delivery_id, digest.id, target.channel, target.key, "delivered", attempts)
    return DeliveryResult(delivery_id, digest.id, target.channel, target.key, "failed", attempts, error)


def _record_attempt(
    con: duckdb.DuckDBPyConnection, delivery_id: str, number: int, ok: bool, error: str | None, final: bool
) -> None:
    now = _utcnow()
    con.execute("INSERT INTO delivery_attempts VALUES (?, ?, ?, ?, ?)", [delivery_id, number, now, ok, error])
    # Until the last attempt of this call the delivery stays 'pending' (a crash mid-way leaves it to retry_failed).
    status = "delivered" if ok else ("failed" if final else "pending")
    con.execute(
        "UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, delivered_at = ? WHERE id = ?",
        [status, number, error, now if ok else None, delivery_id],
    )


# -- channels ----------------------------------------------------------------------------------------------------
def digest_files(digest: StoredDigest, folder: Path) -> dict[str, Path]:
    """Where the file channel writes a digest: `markdown`, `html`, `json` and one `chart:<name>` PNG per chart."""
    stem = digest_stem(digest.window_start, digest.window_end)
    paths = {"markdown": folder / f"{stem}.md", "html": folder / f"{stem}.html", "json": folder / f"{stem}.json"}
    for name in digest.summary.get("charts", []):
        paths[f"chart:{name}"] = folder / chart_file_name(stem, name)
    return paths


def _send_file(digest: StoredDigest, target: Target, settings: DeliverySettings) -> None:
    folder = Path(target.address)
    paths = digest_files(digest, folder)
    _, images = charts_from_html(digest.html)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        paths["markdown"].write_text(digest.markdown, encoding="utf-8")
        paths["html"].write_text(digest.html, encoding="utf-8")
        paths["json"].write_text(json.dumps(digest.summary, ensure_ascii=False, indent=1), encoding="utf-8")
        # The Markdown links the charts as files beside it; they are the same PNGs the page carries inline.
        for name, (_, png) in zip(digest.summary.get("charts", []), images, strict=False):
            paths[f"chart:{name}"].write_bytes(png)
    except OSError as exc:
        raise DeliveryError(f"cannot write to {folder}: {exc}") from exc


def email_message(digest: StoredDigest, to: str, sender: str) -> EmailMessage:
    """The digest as an e-mail: Markdown as the plain-text part, the HTML page with its charts as inline images
    (`cid:` parts; many mail clients block `data:` images)."""
    message = EmailMessage()
    counts = digest.summary.get("alert_counts", {})
    total = sum(counts.values())
    message["Subject"] = f"{digest.title}: {total} alert{'s' if total != 1 else ''}"
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=digest.id[:12], domain="pmon.local")
    message.set_content(digest.markdown)
    html, images = charts_from_html(digest.html)
    # The page's CSP allows cid: images; keep it, it also stops scripts in clients that honour it.
    message.add_alternative(html, subtype="html")
    html_part = list(message.iter_parts())[1]
    for cid, png in images:
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>", filename=f"{cid.split('.')[0]}.png")
    return message


def _send_email(digest: StoredDigest, target: Target, settings: DeliverySettings) -> None:
    host, _, port = (target.smtp or "").rpartition(":")
    message = email_message(digest, target.address, settings.smtp_from)
    smtp_class = smtplib.SMTP_SSL if settings.smtp_ssl else smtplib.SMTP
    try:
        with smtp_class(host, int(port), timeout=settings.timeout_seconds) as smtp:
            if settings.smtp_starttls and not settings.smtp_ssl:
                smtp.starttls()
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"SMTP {target.smtp} refused {target.address}: {exc.recipients}", permanent=True) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP {target.smtp} login failed: {exc.smtp_code} {exc.smtp_error!r}", permanent=True
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {target.smtp}: {type(exc).__name__}: {exc}") from exc
    if refused:
        raise DeliveryError(f"SMTP {target.smtp} refused {sorted(refused)}", permanent=True)


def slack_payload(digest: StoredDigest, max_alerts: int = 20) -> dict[str, Any]:
    """A Slack incoming-webhook message (`text` + `blocks`), with the structured digest under `pmon` for other
    receivers. Post text is defanged and escaped for Slack's mrkdwn (`&`, `<`, `>`)."""
    summary = digest.summary
    counts = summary.get("alert_counts", {})
    headline = f"{digest.title}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) if any(
        counts.values()) else f"{digest.title}: no alerts"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": digest.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(headline)}},
    ]
    for alert in summary.get("alerts", [])[:max_alerts]:
        subject = alert.get("narrative") or ("unnamed group" if alert["kind"] == "emerging" else alert.get("source_id"))
        lines = [
            f"*{alert['kind']}* · {_slack_escape(str(subject))}" + (f" · {alert['lang']}" if alert.get("lang") else ""),
            _slack_escape(defang(alert["summary"])),
        ]
        for evidence in alert.get("evidence", [])[:2]:
            lines.append("> " + _slack_escape(defang(evidence.get("excerpt", "")))[:280])
            parts = (evidence.get("source_id"), (evidence.get("published_at") or "")[:10], defang(evidence.get("url")))
            where = " · ".join(str(part) for part in parts if part)
            lines.append("> — " + _slack_escape(where))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    hidden = len(summary.get("alerts", [])) - max_alerts
    if hidden > 0:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {hidden} more alerts"}]})
    return {"text": _slack_escape(headline), "blocks": blocks[:50], "pmon": summary}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _send_webhook(digest: StoredDigest, target: Target, settings: DeliverySettings) -> None:
    body = json.dumps(slack_payload(digest), ensure_ascii=False, default=str).encode("utf-8")
    try:
        response = httpx.post(
            target.address, content=body, headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=settings.timeout_seconds, follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        # 408, 429 and 5xx may pass if we wait; other statuses will not.
        permanent = response.status_code < 500 and response.status_code not in (408, 429)
        raise DeliveryError(f"webhook answered HTTP {response.status_code}: {response.text[:200]}", permanent=permanent)


_SENDERS: dict[str, Callable[[StoredDigest, Target, DeliverySettings], None]] = {
    "file": _send_file,
    "email": _send_email,
    "webhook": _send_webhook,
}
