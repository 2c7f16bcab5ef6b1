"""`pmon ui` in a real browser (Debian's chromium through Playwright) over a warehouse made by a real monitor run.

Slow: the run uses the real model (session fixture shared with other slow tests), and Chromium starts once here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pmon.warehouse import Warehouse

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                       "(scripts/setup installs it when run as root)"),
]
SCREENSHOTS = os.environ.get("PMON_UI_SCREENSHOTS")  # a folder: save screenshots of the main pages there


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def test_trend_to_evidence_to_verdict_with_the_keyboard(browser, run_warehouse, serve) -> None:
    db, ids = run_warehouse
    base = serve(db)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    remote: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else remote.append(r.url))

    page.goto(base + "/")
    assert page.locator("svg.chart").count() >= 1
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/ui-overview.png", full_page=True)
    # A chart's title links to its narrative; its newest document shows the evidence, highlighted.
    page.locator("svg.chart a").first.click()
    page.wait_for_url("**/narratives/**")
    assert page.locator("blockquote.evidence").count() >= 1
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/ui-narrative.png")
    page.locator("ol.documents a.doc-link").first.click()
    page.wait_for_url("**/documents/**")
    assert page.locator("mark.evidence").count() >= 1
    assert page.locator("mark.evidence").first.is_visible()
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/ui-document.png")

    # The planted item: its markup stays text, no dialog fires, nothing loads from elsewhere.
    page.goto(f"{base}/documents/{ids['planted']}")
    page.goto(base + "/alerts")
    page.goto(base + "/search?q=note")
    assert 'onerror="alert(2)"' in page.locator("ol.documents").inner_text()  # shown as text
    page.goto(f"{base}/documents/{ids['planted']}")
    assert "<script>alert(3)</script>" in page.locator("div.text").inner_text()
    assert dialogs == [] and remote == []

    # Review with the keyboard: 'c' confirms the first item; the verdict lands in the warehouse.
    page.goto(base + "/review")
    first = page.locator("section.review-item").get_attribute("data-document")
    narrative = page.locator("#relabel input[name=narrative]").get_attribute("value")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/ui-review.png")
    page.keyboard.press("c")
    page.wait_for_load_state()
    page.wait_for_function(f"!document.querySelector('[data-document=\"{first}\"]')")
    with Warehouse.open(db, read_only=True) as wh:
        rows = wh.con.execute("SELECT verdict, analyst FROM analyst_labels WHERE document_id = ? AND narrative = ?",
                              [first, narrative]).fetchall()
    assert rows == [("confirm", "tester")]
    # Skip with 's' moves on without writing.
    page.keyboard.press("s")
    page.wait_for_url("**/review?at=1")

    # A POST without the CSRF token, from the page itself, is refused.
    status = page.evaluate(
        """async () => (await fetch('/review', {method: 'POST', headers: {'Content-Type':
            'application/x-www-form-urlencoded'}, body: 'document_id=x&narrative=y&verdict=confirm'})).status""")
    assert status == 403
    assert dialogs == [] and remote == []
    page.close()
