"""Deliveries to a real SMTP server (aiosmtpd) and real HTTP servers on 127.0.0.1; retries, records, exit codes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pmon.alerts.delivery import DeliverySettings, deliver, parse_target, retry_failed, slack_payload, store_digest
from pmon.alerts.digest import build_digest, render_html, render_markdown
from pmon.alerts.rules import AlertSettings, evaluate_alerts
from pmon.warehouse import Warehouse
from tests.alerts.conftest import NOW, TODAY

FAST = DeliverySettings(attempts=3, backoff_seconds=0.05, timeout_seconds=5)
QUIET = AlertSettings(emerging_enabled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Hook:
    """A webhook receiver on 127.0.0.1 that answers the given statuses in turn (the last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the base class's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                status = hook.statuses[min(len(hook.bodies), len(hook.statuses)) - 1]
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"try later")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator[Any]:
    made: list[Hook] = []

    def make(statuses: list[int]) -> Hook:
        made.append(Hook(statuses))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


@pytest.fixture
def stored(truth_copy: Path) -> Iterator[tuple[Warehouse, Any]]:
    """An open warehouse with alerts and a stored digest of the last 7 days."""
    wh = Warehouse.open(truth_copy)
    evaluate_alerts(wh.con, QUIET, now=NOW)
    digest = build_digest(wh.con, TODAY - timedelta(days=6), now=NOW, settings=QUIET)
    kept = store_digest(wh.con, digest, render_markdown(digest), render_html(digest))
    yield wh, kept
    wh.close()


def _deliveries(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.con.execute("SELECT channel, status, attempts, last_error FROM deliveries ORDER BY created_at").fetchall()


def test_email_reaches_a_real_smtp_server(stored: tuple[Warehouse, Any]) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
            return "250 OK"

    wh, digest = stored
    handler = Keep()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        target = parse_target("email", "analyst@example.org", f"127.0.0.1:{port}")
        first = deliver(wh.con, digest, [target], FAST)
        again = deliver(wh.con, digest, [target], FAST)
    finally:
        controller.stop()
    assert [r.status for r in first] == ["delivered"] and [r.status for r in again] == ["skipped"]
    assert len(handler.messages) == 1  # never sent twice
    sender, recipients, raw = handler.messages[0]
    assert sender == "pmon@localhost" and recipients == ["analyst@example.org"]
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"].startswith("pmon digest") and "alerts" in message["Subject"]
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "economic\\_recruitment" in plain
    assert "economic_recruitment" in html and "data:image/png" not in html
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 2
    for image in images:
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    assert _deliveries(wh) == [("email", "delivered", 1, None)]


def test_webhook_gets_slack_compatible_json(stored: tuple[Warehouse, Any], hook_factory: Any) -> None:
    wh, digest = stored
    hook = hook_factory([200])
    results = deliver(wh.con, digest, [parse_target("webhook", hook.url)], FAST)
    assert [r.status for r in results] == ["delivered"]
    body = hook.bodies[0]
    assert body["text"].startswith("pmon digest") and "1 spike" in body["text"]
    assert body["blocks"][0]["type"] == "header"
    assert all(block["type"] in {"header", "section", "context"} for block in body["blocks"])
    sections = "\n".join(block["text"]["text"] for block in body["blocks"] if block["type"] == "section")
    assert "*spike* · economic_recruitment · tg" in sections
    assert "http://" not in sections and "hxxp://" in sections  # evidence links defanged
    assert {a["kind"] for a in body["pmon"]["alerts"]} >= {"spike", "spread", "silence"}
    assert body == json.loads(json.dumps(slack_payload(digest), default=str))


def test_failing_webhook_is_retried_recorded_and_retried_later(
    stored: tuple[Warehouse, Any], hook_factory: Any
) -> None:
    wh, digest = stored
    hook = hook_factory([503])
    results = deliver(wh.con, digest, [parse_target("webhook", hook.url)], FAST)
    assert [(r.status, r.attempts) for r in results] == [("failed", 3)]
    assert "HTTP 503" in (results[0].error or "")
    assert len(hook.bodies) == 3
    assert _deliveries(wh) == [("webhook", "failed", 3, results[0].error)]
    log = wh.con.execute("SELECT attempt, ok FROM delivery_attempts ORDER BY attempt").fetchall()
    assert log == [(1, False), (2, False), (3, False)]

    hook.statuses = [503, 503, 503, 200]  # the receiver is back: the next run's retry gets through
    later = retry_failed(wh.con, FAST)
    assert [(r.status, r.attempts) for r in later] == [("delivered", 1)]
    assert _deliveries(wh)[0][:3] == ("webhook", "delivered", 4)
    assert retry_failed(wh.con, FAST) == []


def test_flaky_webhook_succeeds_on_a_later_attempt(stored: tuple[Warehouse, Any], hook_factory: Any) -> None:
    wh, digest = stored
    hook = hook_factory([500, 200])
    results = deliver(wh.con, digest, [parse_target("webhook", hook.url)], FAST)
    assert [(r.status, r.attempts) for r in results] == [("delivered", 2)]


def test_client_errors_are_not_retried(stored: tuple[Warehouse, Any], hook_factory: Any) -> None:
    wh, digest = stored
    hook = hook_factory([404])
    results = deliver(wh.con, digest, [parse_target("webhook", hook.url)], FAST)
    assert [(r.status, r.attempts) for r in results] == [("failed", 1)]
    assert len(hook.bodies) == 1


def test_unreachable_smtp_fails_after_retries(stored: tuple[Warehouse, Any]) -> None:
    wh, digest = stored
    target = parse_target("email", "analyst@example.org", f"127.0.0.1:{_free_port()}")  # nothing listens there
    results = deliver(wh.con, digest, [target], FAST)
    assert [(r.status, r.attempts) for r in results] == [("failed", 3)]
    assert "Connection refused" in (results[0].error or "") or "ConnectionRefused" in (results[0].error or "")


@pytest.mark.parametrize(
    ("channel", "address", "smtp"),
    [("email", "analyst@example.org", None), ("email", "not-an-address", "127.0.0.1:25"),
     ("webhook", "ftp://x", None), ("pigeon", "x", None)],
)
def test_bad_targets_are_refused(channel: str, address: str, smtp: str | None) -> None:
    with pytest.raises(ValueError):
        parse_target(channel, address, smtp)


def test_pmon_digest_exit_code_when_a_delivery_fails(truth_copy: Path, tmp_path: Path, hook_factory: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pmon.cli.main import app

    monkeypatch.setenv("PMON_DELIVERY_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("PMON_ALERTS_EMERGING_ENABLED", "false")
    failing, working = hook_factory([502]), hook_factory([200])
    runner = CliRunner()
    bad = runner.invoke(app, ["digest", "--db", str(truth_copy), "--since", "7d", "--out", str(tmp_path / "d"),
                              "--webhook", failing.url, "--format", "json"])
    assert bad.exit_code == 1, bad.output
    report = json.loads(bad.stdout)
    assert [d["status"] for d in report["deliveries"]] == ["delivered", "failed"]
    assert len(failing.bodies) == 3

    good = runner.invoke(app, ["digest", "--db", str(truth_copy), "--since", "7d", "--out", str(tmp_path / "d"),
                               "--webhook", working.url, "--format", "json"])
    assert good.exit_code == 1  # the earlier failure is retried first and still fails: reported again
    failing.statuses = [200]
    fixed = runner.invoke(app, ["digest", "--db", str(truth_copy), "--since", "7d", "--out", str(tmp_path / "d"),
                                "--webhook", working.url, "--format", "json"])
    assert fixed.exit_code == 0, fixed.output
    retried = json.loads(fixed.stdout)["retried"]
    assert [(d["channel"], d["status"]) for d in retried] == [("webhook", "delivered")]
    assert [d["status"] for d in json.loads(fixed.stdout)["deliveries"]] == ["delivered", "skipped"]
    assert len(working.bodies) == 1
