"""Digests: escaping and defanging, content, files, and the HTML page opened in headless Chromium."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from pmon.alerts.digest import build_digest, defang, escape_markdown, render_html, render_markdown, write_digest
from pmon.alerts.publish import publish_digest
from pmon.alerts.rules import AlertSettings, evaluate_alerts
from pmon.warehouse import Warehouse
from tests.alerts.conftest import NOW, TODAY, add_documents

CHROMIUM = Path("/usr/bin/chromium")
QUIET = AlertSettings(emerging_enabled=False)
#: Planted in an ingested post: it would change the page's title, or fetch a remote image, if it ever ran.
PLANTED = ('<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'"> '
           "Иқтисод бад аст, кор нест; see https://evil.example/join and t.me/somechannel")


@pytest.mark.parametrize(
    ("raw", "defanged"),
    [
        ("https://news.example/a/b?c=1", "hxxps://news[.]example/a/b?c=1"),
        ("HTTP://127.0.0.1:8080/x", "hxxp://127[.]0[.]0[.]1:8080/x"),
        ("join t.me/channel_x now", "join t[.]me/channel_x now"),
        ("www.site.org and mail@example.com", "www[.]site[.]org and mail@example.com"),
        ("no link at all, v1.2 ok", "no link at all, v1.2 ok"),
        ("RTL\u202etxt.exe", "RTLtxt.exe"),
        ("", ""),
    ],
)
def test_defang(raw: str, defanged: str) -> None:
    assert defang(raw) == defanged


def test_escape_markdown() -> None:
    assert escape_markdown("<b>x</b> [a](javascript:1) *y*") == r"&lt;b&gt;x&lt;/b&gt; \[a\]\(javascript:1\) \*y\*"
    assert escape_markdown("two\nlines") == "two lines"


@pytest.fixture
def digest_db(truth_copy: Path) -> Path:
    """The truth warehouse plus a planted post carrying the spiking narrative; alerts evaluated."""
    with Warehouse.open(truth_copy) as wh:
        add_documents(wh, [("tg-channel-x", "tg", PLANTED, 0, ["economic_recruitment"])], run_id="planted")
        evaluate_alerts(wh.con, QUIET, now=NOW)
    return truth_copy


def test_digest_shows_the_alerts_and_what_changed(digest_db: Path, tmp_path: Path) -> None:
    with Warehouse.open(digest_db, read_only=True) as wh:
        digest = build_digest(wh.con, TODAY - timedelta(days=6), now=NOW, settings=QUIET)
        files = write_digest(digest, tmp_path / "out")
    kinds = [(a.kind.value, a.narrative, a.lang, a.source_id) for a in digest.alerts]
    assert ("spike", "economic_recruitment", "tg", None) in kinds
    assert ("spread", "anti_regional.china", "uz", None) in kinds
    assert ("silence", None, None, "fa-blog") in kinds
    assert digest.changes[0]["narrative"] == "economic_recruitment" and digest.changes[0]["lang"] == "tg"
    assert {chart.name for chart in digest.charts} == {"trends", "heatmap"}
    for chart in digest.charts:
        assert chart.png.startswith(b"\x89PNG\r\n\x1a\n") and chart.width > 300

    html = files.html.read_text(encoding="utf-8")
    markdown = files.markdown.read_text(encoding="utf-8")
    assert "<script" not in html.lower()  # nothing executable anywhere in the page, ours or planted
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html
    assert "onerror=" not in html.replace("onerror=&#34;", "")  # only as escaped text
    assert "https://evil.example" not in html and "hxxps://evil[.]example/join" in html
    assert "Content-Security-Policy" in html and "http://" not in html.split("<body>")[1].replace("hxxp", "")
    assert html.count('src="data:image/png;base64,') == 2
    assert "<script" not in markdown and "&lt;script&gt;" in markdown
    assert "hxxps://evil\\[.\\]example/join" in markdown or "hxxps://evil[.]example/join" in markdown
    for image in files.images:
        assert image.name in markdown and image.read_bytes().startswith(b"\x89PNG")
    assert "economic\\_recruitment" in markdown  # the spike's section, Markdown-escaped


def test_digest_of_an_empty_window_says_so(memory_warehouse) -> None:
    digest = build_digest(memory_warehouse.con, TODAY - timedelta(days=6), now=NOW, charts=False)
    assert digest.alerts == [] and digest.charts == []
    assert "No alerts in this window." in render_html(digest)
    assert "No alerts in this window." in render_markdown(digest)


def test_publish_keeps_the_digest_and_is_idempotent(digest_db: Path, tmp_path: Path) -> None:
    with Warehouse.open(digest_db) as wh:
        first = publish_digest(wh.con, TODAY - timedelta(days=6), tmp_path / "d", now=NOW, alert_settings=QUIET)
        second = publish_digest(wh.con, TODAY - timedelta(days=6), tmp_path / "d", now=NOW, alert_settings=QUIET)
        stored = wh.con.execute("SELECT count(*), max(length(html)) FROM digests").fetchall()[0]
        attempts = wh.con.execute("SELECT count(*) FROM delivery_attempts").fetchall()[0][0]
    assert first.digest_id == second.digest_id and second.new_alerts == []
    assert stored[0] == 1 and stored[1] > 10_000
    assert [r.status for r in first.deliveries] == ["delivered"] and attempts == 2  # files are rewritten each time
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(p.name for p in first.files.values())


CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
    # Nothing leaves 127.0.0.1: every request, loopback included, goes to a proxy on the discard port, where nothing
    # listens, and no host name but the proxy's address resolves. The page under test is a file and needs no network.
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # The browser's own background requests (updates, sync, metrics, network time, safe browsing, translation).
    # Chromium 156 still tries an on-demand component update and accounts.google.com despite these: the
    # proxy above is what keeps those on the machine.
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--no-default-browser-check", "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--metrics-recording-only", "--no-pings",
    "--disable-features=Translate,OptimizationHints,OptimizationGuideModelDownloading,MediaRouter,"
    "DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater,"
    "NetworkTimeServiceQuerying",
)  # fmt: skip


def _chromium(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium to the end, its profile, settings and cache under `home`; stop every process it started."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
    command = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={home / 'profile'}", *args]
    # In a session of its own, so that its pid is also the id of the group its helpers (zygote, renderers, utility
    # processes) belong to.
    browser = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env
    )
    try:
        stdout, stderr = browser.communicate(timeout=90)
    finally:
        # Its crash handlers start sessions of their own: they are known by their crash database, under `home`.
        crash_handlers = _pids_with_argument(f"--database={home / 'config'}")
        with contextlib.suppress(ProcessLookupError):  # the browser and every helper have exited
            os.killpg(browser.pid, signal.SIGKILL)
        browser.wait()
        for pid in crash_handlers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return subprocess.CompletedProcess(command, browser.returncode, stdout, stderr)


def _pids_with_argument(prefix: str) -> list[int]:
    """Processes with a command-line argument that starts with `prefix`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # not a process, or gone
            continue
        if entry.name.isdigit() and any(a.startswith(prefix.encode()) for a in arguments):
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/setup installs it)")
def test_html_digest_in_headless_chromium(digest_db: Path, tmp_path: Path) -> None:
    with Warehouse.open(digest_db, read_only=True) as wh:
        digest = build_digest(wh.con, TODAY - timedelta(days=6), now=NOW, settings=QUIET)
    page = write_digest(digest, tmp_path / "out").html

    dumped = _chromium("--dump-dom", page.as_uri(), home=tmp_path / "chromium-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    # The planted script did not run: the title is ours, no script element exists, the post is inert text.
    assert re.search(r"<title>(.*?)</title>", dom).group(1) == digest.title.replace("·", "·")
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;" in dom
    assert "<img src=\"x\"" not in dom
    # The charts are there: two images whose data are PNGs of a sensible size, and none was refused.
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="(\d+)"', dom)
    assert len(images) == 2
    for data, width in images:
        png = base64.b64decode(data)
        assert png.startswith(b"\x89PNG") and int.from_bytes(png[16:20], "big") > 400 and int(width) > 300
    assert "Refused to" not in dumped.stderr  # no Content-Security-Policy violation (images allowed, nothing else)
    assert 'id="chart-trends"' in dom and 'id="chart-heatmap"' in dom

    shot = tmp_path / "digest.png"
    taken = _chromium("--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri(),
                      home=tmp_path / "chromium-shot")
    assert taken.returncode == 0, taken.stderr[-2000:]
    header = shot.read_bytes()[:24]
    assert header.startswith(b"\x89PNG") and int.from_bytes(header[16:20], "big") == 1200
    shutil.rmtree(tmp_path / "chromium-dom", ignore_errors=True)
    shutil.rmtree(tmp_path / "chromium-shot", ignore_errors=True)
