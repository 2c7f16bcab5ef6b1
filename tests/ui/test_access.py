"""The UI while another process holds the warehouse for writing: pages from the snapshot, verdicts queued, none lost."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pmon.ui import UiSettings, create_app
from pmon.warehouse import Warehouse

NARRATIVE = "taliban_deviation.abandoned_jihad"
# A real writer: pmon's own Warehouse.open (lock file + DuckDB read-write connection), held until stdin closes.
WRITER = """
import sys
from pmon.warehouse import Warehouse
with Warehouse.open(sys.argv[1], purpose="test writer") as wh:
    wh.count("documents")
    print("holding", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def writer():
    started: list[subprocess.Popen[str]] = []

    def hold(db: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        started.append(proc)
        return proc

    yield hold
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pages_and_verdicts_while_a_writer_holds_the_file(small_warehouse, writer) -> None:
    db, ids = small_warehouse
    app = create_app(UiSettings(db=db, analyst="tester", background=False))
    access = app.state.access
    assert access.refresh_snapshot()
    proc = writer(db)
    with TestClient(app) as client:
        # DuckDB lets no other process in; the pages come from the snapshot and say so.
        start = time.monotonic()
        for url in ["/", f"/documents/{ids['tajik']}", "/review", "/api/trends", "/search?q=jihad"]:
            response = client.get(url)
            assert response.status_code == 200, url
            assert "locked" not in response.text.lower()
        assert "A run is writing the warehouse" in client.get("/").text
        assert time.monotonic() - start < 10
        form = {"csrf": app.state.settings.csrf, "document_id": ids["tajik"], "narrative": NARRATIVE,
                "verdict": "confirm", "stance": "report"}
        assert client.post("/review", data=form, follow_redirects=False).status_code == 303
        assert len(access.pending()) == 1 and access.outbox.exists()
        assert "1 verdict(s)" in client.get("/review").text
        assert ids["tajik"] not in client.get("/review").text  # queued verdicts leave the queue at once
        assert access.apply_pending() == 1  # still held: nothing written, nothing dropped
    proc.stdin.close()
    proc.wait(timeout=30)
    assert access.apply_pending() == 0 and not access.outbox.exists()
    with Warehouse.open(db, read_only=True) as wh:
        rows = wh.con.execute("SELECT document_id, narrative, verdict, stance, analyst FROM analyst_labels").fetchall()
    assert rows == [(ids["tajik"], NARRATIVE, "confirm", "report", "tester")]


def test_a_queued_verdict_survives_a_restart_and_the_background_thread_applies_it(small_warehouse, writer) -> None:
    db, ids = small_warehouse
    first = create_app(UiSettings(db=db, analyst="tester", background=False))
    first.state.access.refresh_snapshot()
    proc = writer(db)
    with TestClient(first) as client:
        form = {"csrf": first.state.settings.csrf, "document_id": ids["persian"], "narrative": NARRATIVE,
                "verdict": "reject"}
        assert client.post("/review", data=form, follow_redirects=False).status_code == 303
    proc.stdin.close()
    proc.wait(timeout=30)
    # A new UI process (the first one gone) finds the outbox and applies it in the background.
    second = create_app(UiSettings(db=db, analyst="tester"))
    second.state.access.apply_every = 0.1
    with TestClient(second):
        deadline = time.monotonic() + 15
        while second.state.access.pending() and time.monotonic() < deadline:
            time.sleep(0.1)
    with Warehouse.open(db, read_only=True) as wh:
        assert wh.con.execute("SELECT verdict FROM analyst_labels WHERE document_id = ?", [ids["persian"]]).fetchall() \
            == [("reject",)]


def test_busy_without_a_snapshot_is_a_503_page_not_an_error(small_warehouse, writer) -> None:
    db, _ = small_warehouse
    app = create_app(UiSettings(db=db, background=False))
    writer(db)
    with TestClient(app) as client:
        response = client.get("/")
    assert response.status_code == 503 and "A run is writing" in response.text and "Traceback" not in response.text
