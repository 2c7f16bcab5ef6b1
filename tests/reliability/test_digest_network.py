"""Content safety for analysts: a digest built from ingested posts that try every way of loading a remote
resource makes no network request when opened in headless Chromium.

Two independent witnesses: the DevTools protocol reports every request the page starts (Network domain), and
all of Chromium's traffic is sent to a recording proxy on 127.0.0.1 (nothing can reach any other address;
Chromium's own background calls, such as component updates, land there too and are told apart by host).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/setup installs it)"),
]

#: Planted in ingested posts: each element would fetch something if the digest let it through as markup.
REMOTE = "evil.invalid"
PLANTED = (
    f'<img src="http://{REMOTE}/a.png"> <link rel="stylesheet" href="https://{REMOTE}/s.css"> '
    f'<iframe src="//{REMOTE}/frame"></iframe> <video poster="http://{REMOTE}/p.jpg"></video> '
    f'<svg><image href="http://{REMOTE}/i.svg"/></svg> <object data="http://{REMOTE}/o"></object> '
    f"<style>@import url(http://{REMOTE}/x.css); body {{ background: url(http://{REMOTE}/bg.png) }}</style> "
    f'<meta http-equiv="refresh" content="0;url=http://{REMOTE}/refresh"> <base href="http://{REMOTE}/"> '
    f'<script src="http://{REMOTE}/s.js"></script> <a href="http://{REMOTE}/click">link</a> '
    f"Иқтисод бад аст, кор нест; http://{REMOTE}/plain www.{REMOTE}/bare"
)


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards nothing and records every request line it is sent."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.lines.append(conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recording = RecordingProxy()
    yield recording
    recording.close()


@pytest.fixture
def hostile_digest(tmp_path: Path) -> Path:
    """A digest of the demo media plus planted posts in the narrative that spikes (so they are its evidence)."""
    from pmon.alerts.digest import build_digest, write_digest
    from pmon.alerts.rules import AlertSettings, evaluate_alerts
    from pmon.warehouse import Warehouse
    from tests.alerts.conftest import NOW, TODAY, add_documents, store_truth_media

    quiet = AlertSettings(emerging_enabled=False)
    db = tmp_path / "digest.duckdb"
    with Warehouse.open(db) as wh:
        store_truth_media(wh, tmp_path / "media")
        planted = [("tg-channel-x", "tg", f"{PLANTED} #{i}", i % 3, ["economic_recruitment"]) for i in range(3)]
        add_documents(wh, planted, run_id="planted")
        evaluate_alerts(wh.con, quiet, now=NOW)
        digest = build_digest(wh.con, TODAY - timedelta(days=6), now=NOW, settings=quiet)
    page = write_digest(digest, tmp_path / "out").html
    assert REMOTE.replace(".", "[.]") in page.read_text(encoding="utf-8")  # the planted posts are in the page
    return page


def _devtools_port(profile: Path, process: subprocess.Popen[str], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        if process.poll() is not None:
            raise AssertionError(f"chromium exited: {process.stderr.read()[-2000:] if process.stderr else ''}")
        time.sleep(0.1)
    raise AssertionError("chromium did not open its DevTools port")


def _requests_of_page(url: str, proxy_port: int, profile: Path) -> list[str]:
    """Open `url` in headless Chromium and return the URL of every request the page made."""
    from websockets.sync.client import connect

    process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own flags
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only", "--no-pings",
         "--disable-client-side-phishing-detection", "--disable-features=OptimizationHints,MediaRouter,Translate",
         f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>",
         "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        port = _devtools_port(profile, process)
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        requested: list[str] = []
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=20) as ws:
            for number, method in enumerate(("Network.enable", "Page.enable"), start=1):
                ws.send(json.dumps({"id": number, "method": method}))
            ws.send(json.dumps({"id": 9, "method": "Page.navigate", "params": {"url": url}}))
            loaded_at = None
            seen: list[str] = []
            # Generous: the page inlines its charts' JavaScript, and a loaded CI machine can be slow to run it.
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                # After the load event, keep listening a little: lazy images, refreshes and CSS imports come late.
                if loaded_at is not None and time.monotonic() - loaded_at > 2.0:
                    break
                try:
                    event = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                seen.append(str(event.get("method") or f"reply {event.get('id')}"))
                if event.get("method") == "Network.requestWillBeSent":
                    requested.append(event["params"]["request"]["url"])
                elif event.get("method") == "Network.webSocketCreated":
                    requested.append(event["params"]["url"])
                elif event.get("method") in ("Page.loadEventFired", "Page.frameStoppedLoading") and loaded_at is None:
                    loaded_at = time.monotonic()
            assert loaded_at is not None, f"the digest page never finished loading; DevTools said: {seen[-20:]}"
        return requested
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def test_digest_page_makes_no_network_request(hostile_digest: Path, proxy: RecordingProxy, tmp_path: Path) -> None:
    requested = _requests_of_page(hostile_digest.as_uri(), proxy.port, tmp_path / "profile")
    assert requested and requested[0] == hostile_digest.as_uri()  # the witness works: it saw the page itself
    remote = [url for url in requested if urlsplit(url).scheme not in ("file", "data")]
    assert remote == [], f"the digest made network requests: {remote}"
    assert [url for url in requested if url.startswith("file:")] == [hostile_digest.as_uri()]  # no local files either
    # Chromium's own background requests (component updates, clock) also reach the proxy; none may be the page's.
    from_page = [line for line in proxy.lines if REMOTE in line or ".example" in line]
    assert from_page == [], f"Chromium sent the page's traffic out: {from_page}"


def test_the_witness_sees_requests_when_there_are_some(proxy: RecordingProxy, tmp_path: Path) -> None:
    # The same page without escaping would load the planted resources: the recorder must notice.
    page = tmp_path / "unsafe.html"
    page.write_text(f"<html><body>{PLANTED}</body></html>", encoding="utf-8")
    requested = _requests_of_page(page.as_uri(), proxy.port, tmp_path / "profile")
    assert any(REMOTE in url for url in requested)
    assert any(REMOTE in line for line in proxy.lines)
