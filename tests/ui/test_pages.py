"""Every page and JSON endpoint of `pmon ui` over a real warehouse file, through Starlette's TestClient."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pmon.ui import UiSettings, create_app, requires_token
from pmon.warehouse import Warehouse
from tests.ui.conftest import PLANTED_EVIDENCE

NARRATIVE = "taliban_deviation.abandoned_jihad"


@pytest.fixture
def client(small_warehouse: tuple[Path, dict[str, str]]):
    db, ids = small_warehouse
    app = create_app(UiSettings(db=db, analyst="tester", background=False))
    with TestClient(app) as test_client:
        test_client.ids = ids  # type: ignore[attr-defined]
        test_client.csrf = app.state.settings.csrf  # type: ignore[attr-defined]
        yield test_client


def _pages(ids: dict[str, str]) -> list[str]:
    return ["/", f"/narratives/{NARRATIVE}", "/narratives/taliban_deviation", f"/documents/{ids['planted']}",
            "/search?q=jihad", "/search?q=&narrative=taliban_deviation&lang=en&source=en-wire&stance=promote&since=30d",
            "/alerts", "/review", "/runs", "/sources"]


def test_every_page_answers_with_a_strict_policy_and_no_remote_loads(client: TestClient) -> None:
    for url in _pages(client.ids):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        # Nothing is loaded from another machine: every src/href is a local path, a fragment or a query.
        for ref in re.findall(r'(?:src|href)="([^"]*)"', response.text):
            assert ref.startswith(("/", "#", "?")), (url, ref)
        assert "<script>" not in response.text, url  # the one script is /static/app.js, by src


def test_planted_markup_is_escaped_and_links_defanged(client: TestClient) -> None:
    for url in [f"/documents/{client.ids['planted']}", "/alerts", "/search?q=note", f"/narratives/{NARRATIVE}", "/"]:
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "onerror=\"alert" not in html, url
    html = client.get(f"/documents/{client.ids['planted']}").text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "hxxps://bad[.]example" in html and "https://bad.example" not in html
    # The evidence sentence is highlighted, escaped.
    marked = re.findall(r'<mark class="evidence">(.*?)</mark>', html, re.S)
    assert any("The Taliban left the path of jihad" in m for m in marked)
    assert PLANTED_EVIDENCE not in html  # only in its escaped form


def test_document_page_shows_detections_with_stance_and_accepts_a_prefix(client: TestClient) -> None:
    doc_id = client.ids["tajik"]
    response = client.get(f"/documents/{doc_id[:8]}", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == f"/documents/{doc_id}"
    html = client.get(f"/documents/{doc_id}").text
    assert "Taliban abandoned jihad" in html and "stance-report" in html and "0.520" in html
    assert client.get("/documents/zzzz").status_code == 404


def test_narrative_page_has_codebook_label_stances_and_documents(client: TestClient) -> None:
    html = client.get("/narratives/taliban_deviation").text
    assert "Taliban deviation" in html
    assert html.index("Толибон аз роҳи ҷиҳод") >= 0  # the Tajik evidence sentence, listed
    stances = dict(re.findall(r'stance-(promote|report|counter)">\w+</span></td><td class="num">(\d+)', html))
    assert stances == {"promote": "3", "report": "1", "counter": "1"}
    assert client.get("/narratives/not_a_narrative").status_code == 404


@pytest.mark.parametrize(("query", "expected"), [
    ("يك", "persian"),            # Arabic yeh and kaf find the Persian-spelled text too
    ("یک", "persian"),            # and the Persian letters find the Arabic-spelled one
    ("می‌گویند", "persian_zwnj"),  # with a zero-width non-joiner ...
    ("میگویند", "persian_zwnj"),   # ... and without
    ("o'zgardi", "uzbek"), ("oʻzgardi", "uzbek"), ("o‘zgardi", "uzbek"), ("oʼzgardi", "uzbek"),
    ("ҶИҲОД", "tajik"),           # case-insensitive Cyrillic
])
def test_search_normalises_scripts(client: TestClient, query: str, expected: str) -> None:
    found = client.get("/api/documents", params={"q": query}).json()
    texts = {d["excerpt"] for d in found}
    marker = {"persian": "اين يك", "persian_zwnj": "سخن", "uzbek": "narxlar", "tajik": "Толибон"}[expected]
    assert any(marker in t for t in texts), (query, texts)


def test_search_filters_and_validation(client: TestClient) -> None:
    rows = client.get("/api/documents", params={"narrative": "taliban_deviation", "stance": "counter"}).json()
    assert [r["source_id"] for r in rows] == ["en-wire"]
    assert client.get("/api/documents", params={"stance": "loud"}).status_code == 400
    assert client.get("/api/documents", params={"narrative": "x'; DROP TABLE documents; --"}).status_code == 400
    rows = client.get("/api/documents", params={"q": "x'); DROP TABLE documents; --"}).json()
    assert rows == [] and client.get("/api/documents").json()  # nothing dropped


def test_api_endpoints(client: TestClient) -> None:
    assert {d["narrative"] for d in client.get("/api/detections", params={"lang": "tg"}).json()} == {NARRATIVE}
    alerts = client.get("/api/alerts").json()
    assert alerts[0]["id"] == client.ids["alert"] and alerts[0]["action"] is None
    assert client.get("/api/runs").json() == []
    assert client.get("/api/trends", params={"by": "nope"}).status_code == 400


def test_post_without_csrf_is_refused_and_nothing_is_written(client: TestClient, small_warehouse) -> None:
    db, ids = small_warehouse
    form = {"document_id": ids["tajik"], "narrative": NARRATIVE, "verdict": "confirm"}
    assert client.post("/review", data=form).status_code == 403
    assert client.post("/review", data={**form, "csrf": "guess"}).status_code == 403
    assert client.post(f"/alerts/{ids['alert']}", data={"action": "dismissed"}).status_code == 403
    with Warehouse.open(db, read_only=True) as wh:
        assert wh.count("analyst_labels") == 0


def test_review_verdicts_are_validated_and_stored_with_who_and_when(client: TestClient, small_warehouse) -> None:
    db, ids = small_warehouse
    base = {"csrf": client.csrf, "document_id": ids["tajik"]}
    assert client.post("/review", data={**base, "narrative": "made_up", "verdict": "confirm"}).status_code == 400
    assert client.post("/review", data={**base, "narrative": NARRATIVE, "verdict": "maybe"}).status_code == 400
    assert client.post("/review", data={**base, "narrative": NARRATIVE, "verdict": "confirm",
                                        "stance": "shouting"}).status_code == 400
    response = client.post("/review", data={**base, "narrative": NARRATIVE, "verdict": "confirm", "stance": "report",
                                            "next": "https://elsewhere.example/"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/review"  # no open redirect
    relabel = {"csrf": client.csrf, "document_id": ids["persian"], "narrative": NARRATIVE, "verdict": "confirm",
               "relabel_to": "taliban_deviation.iran_ties", "stance": "promote"}
    assert client.post("/review", data=relabel, follow_redirects=False).status_code == 303
    from pmon.warehouse.labels import analyst_training_set

    with Warehouse.open(db, read_only=True) as wh:
        rows = wh.con.execute("SELECT document_id, narrative, verdict, stance, analyst, labelled_at "
                              "FROM analyst_labels ORDER BY document_id, narrative").fetchall()
        training = analyst_training_set(wh.con, ["taliban_deviation.abandoned_jihad", "taliban_deviation.iran_ties"])
    assert {(r[1], r[2], r[3], r[4]) for r in rows} == {
        (NARRATIVE, "confirm", "report", "tester"),
        (NARRATIVE, "reject", None, "tester"), ("taliban_deviation.iran_ties", "confirm", "promote", "tester")}
    assert all(r[5] is not None for r in rows)
    # `pmon train` reads them: the evidence sentences become examples of the confirmed narratives.
    examples = dict(zip(training.texts, training.labels, strict=True))
    assert examples["Толибон аз роҳи ҷиҳод баргаштанд."] == [NARRATIVE]
    # A relabelled narrative has no detection (no evidence): labels.py trains it on the text.
    relabelled = [labels for text, labels in examples.items() if "اين يك متن" in text]
    assert relabelled == [["taliban_deviation.iran_ties"]]
    # Judged items leave the queue.
    assert ids["tajik"] not in client.get("/review").text


def test_alert_actions_are_stored_and_dismissed_alerts_leave_digests(client: TestClient, small_warehouse) -> None:
    from pmon.alerts.digest import build_digest
    from pmon.alerts.rules import list_alerts

    db, ids = small_warehouse
    bad = client.post(f"/alerts/{ids['alert']}", data={"csrf": client.csrf, "action": "delete"})
    assert bad.status_code == 400
    assert client.post("/alerts/nope", data={"csrf": client.csrf, "action": "dismissed"}).status_code == 404
    ok = client.post(
        f"/alerts/{ids['alert']}", data={"csrf": client.csrf, "action": "dismissed"}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert client.get("/api/alerts").json()[0]["action"] == "dismissed"
    with Warehouse.open(db) as wh:
        assert [a.id for a in list_alerts(wh.con)] == [ids["alert"]]
        assert list_alerts(wh.con, include_dismissed=False) == []
        digest = build_digest(wh.con, since=(wh.con.execute("SELECT current_date - 30").fetchall()[0][0]), charts=False)
    assert digest.alerts == []


def test_token_is_required_on_every_request_when_set(small_warehouse) -> None:
    db, _ = small_warehouse
    assert requires_token("0.0.0.0") and requires_token("192.168.1.5") and not requires_token("127.0.0.1")
    app = create_app(UiSettings(db=db, token="s3cret", background=False))  # noqa: S106 - a test token
    with TestClient(app) as c:
        for url in ["/", "/api/trends", "/static/app.css", "/review"]:
            assert c.get(url).status_code == 401, url
        assert c.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/runs", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/?token=s3cret").status_code == 200  # sets the cookie ...
        assert c.get("/alerts").status_code == 200           # ... that later requests carry


def test_off_loopback_without_token_is_a_one_line_error(small_warehouse) -> None:
    from typer.testing import CliRunner

    from pmon.cli.main import app

    db, _ = small_warehouse
    result = CliRunner().invoke(app, ["ui", "--db", str(db), "--host", "0.0.0.0"], env={"PMON_UI_TOKEN": ""})
    assert result.exit_code == 1
    assert "--token" in result.output and "Traceback" not in result.output
