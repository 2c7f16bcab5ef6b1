"""`pmon ui` over the warehouse of a real monitor run (slow: the real model, shared session fixture)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from pmon.cli.main import app as cli
from pmon.ui import UiSettings, create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def client(run_warehouse):
    db, ids = run_warehouse
    app = create_app(UiSettings(db=db, background=False))
    with TestClient(app) as test_client:
        test_client.db, test_client.ids = db, ids  # type: ignore[attr-defined]
        yield test_client


@pytest.mark.parametrize("params", [
    {}, {"by": "narrative,lang,source", "period": "day", "since": "30d"}, {"by": "lang", "period": "month"},
    {"by": "narrative", "period": "week", "since": "12w"},
])
def test_api_trends_is_what_the_cli_prints(client: TestClient, params: dict[str, str]) -> None:
    args = ["trends", "--db", str(client.db), "--format", "json"]
    for key, value in params.items():
        args += [f"--{key}", value]
    printed = CliRunner().invoke(cli, args)
    assert printed.exit_code == 0, printed.output
    expected = json.loads(printed.output)
    assert expected  # the run stored narrative documents
    assert client.get("/api/trends", params=params).json() == expected


def test_pages_over_the_real_run(client: TestClient) -> None:
    runs = client.get("/api/runs").json()
    assert runs and runs[0]["status"].startswith("completed") and runs[0]["stage_seconds"]
    html = client.get("/runs").text
    assert runs[0]["run_id"][:12] in html
    assert client.get("/sources").status_code == 200
    overview = client.get("/").text
    assert overview.count('class="chart"') >= 1 and "Top movers" in overview
    review = client.get("/review")
    assert review.status_code == 200 and 'data-key="c"' in review.text
    first = client.get("/api/detections", params={"limit": 1}).json()[0]
    assert client.get(f"/documents/{first['document_id']}").status_code == 200
    assert client.get(f"/narratives/{first['narrative'].split('.')[0]}").status_code == 200
