"""Warehouses and servers for the UI tests.

* `small_warehouse`: a DuckDB file written through `Warehouse.store_batch` (the path runs take) with a few short,
  mild synthetic documents in every script the search must normalise, one planted item whose title and text carry
  `<script>` / `onerror=` markup, detections with evidence and low scores (a review queue), and one alert. Seconds.
* `run_warehouse`: the demo media through one real `monitor` run (the real model; tests/conftest.py's
  `demo_warehouse`), plus the planted item: for the slow tests (browser, runs, trends against the CLI).
* `serve`: a real uvicorn server on 127.0.0.1 and a free port, stopped at the end.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pmon.schemas.codebook import Stance
from pmon.schemas.detections import Classification, NarrativeScore
from pmon.schemas.documents import RawItem
from pmon.schemas.language import LanguageResult
from pmon.warehouse import Warehouse, refresh_trends

NOW = datetime.now(UTC).replace(tzinfo=None)
PLANTED_TITLE = 'Update <script>alert("x")</script> <img src=x onerror="alert(1)">'
PLANTED_TEXT = ('Readers shared a note <img src=x onerror="alert(2)"> about the market. '
                '<script>alert(3)</script> The Taliban left the path of jihad, the note claims. '
                'See https://bad.example/page for more.')
PLANTED_EVIDENCE = "<script>alert(3)</script> The Taliban left the path of jihad, the note claims."

# (source, lang, script, title, text, days ago, [(narrative, score, evidence sentence)], stance)
DOCS = [
    ("fa-news", "fa", "Arab", "گزارش بازار", "قیمت نان در کابل بالا رفت. مردم از کار و درآمد سخن می‌گویند.", 2,
     [("economic_recruitment", 0.41, "مردم از کار و درآمد سخن می‌گویند.")], "report"),
    ("fa-news", "fa", "Arab", "يادداشت", "اين يك متن كوتاه با حروف عربي است. طالبان راه جهاد را رها کردند.", 3,
     [("taliban_deviation.abandoned_jihad", 0.36, "طالبان راه جهاد را رها کردند.")], "promote"),
    ("uz-feed", "uz", "Latn", "Oʻzbek yangiliklari",
     "Bugun bozorda narxlar oʻzgardi. Ishchilar yaxshi maosh haqida gapirdi.", 1,
     [("economic_recruitment", 0.33, "Ishchilar yaxshi maosh haqida gapirdi.")], "promote"),
    ("tg-chan", "tg", "Cyrl", "Хабарҳо", "Имрӯз ҳаво гарм буд. Толибон аз роҳи ҷиҳод баргаштанд.", 4,
     [("taliban_deviation.abandoned_jihad", 0.52, "Толибон аз роҳи ҷиҳод баргаштанд.")], "report"),
    ("en-wire", "en", "Latn", "Weather and markets", "Markets were calm today. Rain is expected in the north.", 5,
     [], "none"),
    ("en-wire", "en", "Latn", "Regional talks",
     "Officials met to discuss trade. Critics say the Taliban abandoned jihad.", 9,
     [("taliban_deviation.abandoned_jihad", 0.78, "Critics say the Taliban abandoned jihad.")], "counter"),
    ("ps-site", "ps", "Arab", "خبرونه", "نن ورځ باران و. طالبانو د جهاد لاره پرېښوده.", 6,
     [("taliban_deviation.abandoned_jihad", 0.44, "طالبانو د جهاد لاره پرېښوده.")], "promote"),
    ("ug-site", "ug", "Arab", "خەۋەر", "بۈگۈن ھاۋا ياخشى. ئىقتىسادىي ئەھۋال ھەققىدە سۆزلەشتى.", 7, [], "none"),
]


def _store(wh: Warehouse) -> dict[str, str]:
    items, languages, classifications = [], [], []
    for source, lang, script, title, text, days, detections, stance in DOCS:
        items.append(RawItem(source_id=source, title=title, text=text, url=f"https://{source}.example/{days}",
                             published_at=NOW - timedelta(days=days)))
        languages.append(LanguageResult(lang=lang, script=script, confidence=0.99, mix={lang: 1.0}))
        classifications.append(Classification(
            stance=Stance(stance),
            narratives=[NarrativeScore(id=n, score=s, evidence=[e]) for n, s, e in detections],
            model_version="test", codebook_version="test"))
    items.append(RawItem(source_id="en-wire", title=PLANTED_TITLE, text=PLANTED_TEXT,
                         url='https://bad.example/"><script>alert(4)</script>', published_at=NOW - timedelta(hours=3)))
    languages.append(LanguageResult(lang="en", script="Latn", confidence=0.99, mix={"en": 1.0}))
    classifications.append(Classification(
        stance=Stance.promote,
        narratives=[NarrativeScore(id="taliban_deviation.abandoned_jihad", score=0.31, evidence=[PLANTED_EVIDENCE])],
        model_version="test", codebook_version="test"))
    wh.store_batch(items, languages, classifications, run_id="ui-test", classifier_tag="test")
    refresh_trends(wh.con)
    return {"planted": items[-1].id, "persian": items[1].id, "tajik": items[3].id}


def add_planted_alert(wh: Warehouse, document_id: str) -> str:
    """One spike alert whose summary and evidence carry markup (stored through the alert rules' own store)."""
    from pmon.alerts.rules import Alert, AlertKind, Evidence, store_alerts

    alert = Alert(id="a" * 32, kind=AlertKind.spike, narrative="taliban_deviation.abandoned_jihad", lang="en",
                  window_start=NOW - timedelta(days=7), window_end=NOW, observed=5, expected=1, score=3.2,
                  summary='spike <img src=x onerror="alert(5)"> in en', details={},
                  evidence=[Evidence(document_id=document_id, url="https://bad.example/x", title=PLANTED_TITLE,
                                     excerpt=PLANTED_TEXT[:80], lang="en", published_at=NOW)],
                  created_at=NOW)
    store_alerts(wh.con, [alert])
    return alert.id


@pytest.fixture(scope="session")
def small_warehouse_master(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("ui-small") / "small.duckdb"
    with Warehouse.open(path) as wh:
        ids = _store(wh)
        ids["alert"] = add_planted_alert(wh, ids["planted"])
    return path, ids


@pytest.fixture
def small_warehouse(small_warehouse_master: tuple[Path, dict[str, str]], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A private copy of the small warehouse (tests write verdicts into it) and the ids of its notable items."""
    master, ids = small_warehouse_master
    target = tmp_path / "small.duckdb"
    shutil.copy(master, target)
    return target, ids


@pytest.fixture(scope="session")
def run_warehouse_master(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The real run's warehouse with the planted item and alert added."""
    path = tmp_path_factory.mktemp("ui-run") / "run.duckdb"
    shutil.copy(demo_warehouse, path)
    with Warehouse.open(path) as wh:
        ids = _store(wh)
        ids["alert"] = add_planted_alert(wh, ids["planted"])
    return path, ids


@pytest.fixture
def run_warehouse(run_warehouse_master: tuple[Path, dict[str, str]], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A private copy of the real run's warehouse."""
    master, ids = run_warehouse_master
    target = tmp_path / "run.duckdb"
    shutil.copy(master, target)
    return target, ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start a real uvicorn server for a warehouse on 127.0.0.1; returns its base URL. Stopped after the test."""
    import uvicorn

    from pmon.ui import UiSettings, create_app

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(db: Path, **settings: object) -> str:
        port = free_port()
        app = create_app(UiSettings(db=db, analyst="tester", **settings))  # type: ignore[arg-type]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
