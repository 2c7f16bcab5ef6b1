"""`pmon serve`: deployments from a sources file, real schedules on a real Prefect server, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pmon.schemas.sources import SourceConfig

SOURCES = """\
sources:
  - {id: tg-news, kind: feed, location: feeds/tg.xml, group: news, schedule: 30m}
  - {id: uz-news, kind: feed, location: feeds/uz.xml, group: news, schedule: 1h}
  - {id: articles, kind: feed, location: feeds/a.xml, group: longreads, schedule: "0 */6 * * *"}
  - {id: drop, kind: jsonl, location: drops/x.jsonl, group: drops}
  - {id: old, kind: feed, location: feeds/old.xml, group: gone, schedule: 5m, enabled: false}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prefect_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90", "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    })
    return env


def _stop(process: subprocess.Popen[Any], timeout: float = 30) -> int:
    """SIGTERM by pid, SIGKILL if it does not go; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return int(process.returncode)


def test_group_schedules_take_the_shortest_interval_and_keep_crons() -> None:
    from pmon.flows.serve import group_schedules

    sources = [
        SourceConfig(id="a", kind="feed", location="x", group="news", schedule="1h"),
        SourceConfig(id="b", kind="feed", location="x", group="news", schedule="15m"),
        SourceConfig(id="c", kind="feed", location="x", group="mixed", schedule="30m"),
        SourceConfig(id="d", kind="feed", location="x", group="mixed", schedule="0 6 * * *"),
        SourceConfig(id="e", kind="feed", location="x", group="manual"),
        SourceConfig(id="f", kind="feed", location="x", group="off", schedule="1m", enabled=False),
    ]
    assert group_schedules(sources) == {"news": ["15m"], "mixed": ["30m", "0 6 * * *"], "manual": []}


def test_deployments_from_a_sources_file(tmp_path: Path) -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy

    from pmon.flows.serve import DigestSchedule, build_deployments

    (tmp_path / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    deployments = build_deployments(
        tmp_path / "sources.yaml", tmp_path / "pmon.duckdb",
        [DigestSchedule("daily", "0 7 * * *", "1d", out_dir=str(tmp_path / "d"), webhook=("http://127.0.0.1:9/h",))],
    )
    by_name = {d.name: d for d in deployments}
    assert sorted(by_name) == ["pmon-daily", "pmon-drops", "pmon-longreads", "pmon-news"]
    news = by_name["pmon-news"]
    assert news.flow_name == "scheduled-monitor" and news.entrypoint == "pmon.flows.serve.scheduled_monitor"
    assert [s.schedule.interval for s in news.schedules] == [timedelta(minutes=30)]
    assert news.parameters == {"sources_path": str((tmp_path / "sources.yaml").resolve()),
                               "db_path": str((tmp_path / "pmon.duckdb").resolve()), "group": "news",
                               "wait_seconds": 600.0}
    assert news.concurrency_limit == 1
    assert news.concurrency_options.collision_strategy is ConcurrencyLimitStrategy.CANCEL_NEW
    assert [s.schedule.cron for s in by_name["pmon-longreads"].schedules] == ["0 */6 * * *"]
    assert by_name["pmon-drops"].schedules == []  # no schedule in the file: started by hand from the UI
    daily = by_name["pmon-daily"]
    assert daily.flow_name == "digest" and daily.entrypoint == "pmon.flows.digest.digest"
    assert [s.schedule.cron for s in daily.schedules] == ["0 7 * * *"]
    assert daily.parameters["since"] == "1d" and daily.parameters["webhook"] == ["http://127.0.0.1:9/h"]


def test_warehouse_limit_name_is_per_file(tmp_path: Path) -> None:
    from pmon.flows.serve import warehouse_limit_name

    assert warehouse_limit_name(tmp_path / "a.duckdb") == warehouse_limit_name(str(tmp_path / "x" / ".." / "a.duckdb"))
    assert warehouse_limit_name(tmp_path / "a.duckdb") != warehouse_limit_name(tmp_path / "b.duckdb")


@pytest.fixture
def prefect_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real `prefect server start` on a free 127.0.0.1 port (via flows.serve.PrefectServer); yields its API URL."""
    from pmon.flows.serve import PrefectServer

    for key, value in _prefect_env(tmp_path / "server-home").items():
        if key.startswith("PREFECT_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    server = PrefectServer(port=_free_port(), ui=False, log_path=tmp_path / "server.log")
    server.start()
    try:
        yield server.api_url
    finally:
        pid = server.process.pid if server.process else None
        server.stop()
        if pid is not None:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # stopped by its pid, really gone


def _completed_runs(api_url: str) -> list[Any]:
    """Completed flow runs (filtered on the server: a 3 s schedule keeps dozens of future runs scheduled)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL, temporary_settings

    completed = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])))
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_run_filter=completed, limit=50)


@pytest.mark.slow
def test_interval_schedule_makes_real_scheduled_runs(prefect_server: str, tmp_path: Path) -> None:
    script = tmp_path / "heartbeat.py"
    script.write_text(textwrap.dedent("""\
        from prefect import flow

        from pmon.flows.serve import serve_deployments


        @flow(name="pmon-heartbeat")
        def heartbeat() -> str:
            return "ok"


        if __name__ == "__main__":
            serve_deployments([heartbeat.to_deployment(name="every-3s", interval=3)])
    """), encoding="utf-8")
    env = _prefect_env(tmp_path / "server-home") | {"PREFECT_API_URL": prefect_server}
    serving = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    completed: list[Any] = []
    try:
        deadline = time.monotonic() + 150  # about 10 s on an idle machine; far more when the cores are busy
        while time.monotonic() < deadline and serving.poll() is None:
            completed = [r for r in _completed_runs(prefect_server) if r.auto_scheduled]
            if len(completed) >= 2:
                break
            time.sleep(1)
    finally:
        code = _stop(serving)
        output = serving.stdout.read().decode(errors="replace") if serving.stdout else ""
    assert len(completed) >= 2, f"scheduled runs completed: {len(completed)}; serve exited {code}:\n{output[-3000:]}"
    assert code in (0, -signal.SIGKILL), output[-3000:]  # SIGTERM: a graceful stop (or, if that hangs, killed)
    assert len({r.id for r in completed}) == len(completed)
    assert all(r.expected_start_time is not None for r in completed)


@pytest.mark.slow
def test_pmon_serve_starts_registers_and_stops_its_own_server(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from pmon.flows.serve import warehouse_limit_name

    (tmp_path / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    port = _free_port()
    db = tmp_path / "pmon.duckdb"
    pmon = Path(sys.executable).with_name("pmon")
    env = _prefect_env(tmp_path / "home")
    serving = subprocess.Popen(  # noqa: S603 - our own CLI
        [str(pmon), "serve", "--config", str(tmp_path / "sources.yaml"), "--db", str(db), "--port", str(port),
         "--no-ui", "--weekly-digest", "off", "--deployments"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{port}/api"
    names: set[str] = set()
    limit: Any = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and serving.poll() is None:
            try:
                with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
                    names = {d.name for d in client.read_deployments()}
                    if {"pmon-news", "pmon-longreads", "pmon-drops", "pmon-daily"} <= names:
                        limit = client.read_global_concurrency_limit_by_name(warehouse_limit_name(db))
                        break
            except Exception:  # noqa: BLE001, S110 - the server is still starting
                pass
            time.sleep(1)
    finally:
        code = _stop(serving)
        output = serving.stdout.read().decode(errors="replace") if serving.stdout else ""
    assert names >= {"pmon-news", "pmon-longreads", "pmon-drops", "pmon-daily"}, output[-3000:]
    assert "pmon-weekly" not in names
    assert limit is not None and limit.limit == 1
    assert code == 0, output[-3000:]
    # Its server went with it: nothing answers on the port any more.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=2)


FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local news</title><link>http://127.0.0.1/</link><description>d</description>
<item><guid>n1</guid><title>Market day</title>
<description>The weekly market opened early and prices of bread stayed the same.</description></item>
<item><guid>n2</guid><title>School repairs</title>
<description>Parents helped paint the village school before the new term.</description></item>
<item><guid>n3</guid><title>Rain</title>
<description>Light rain is expected in the valley over the weekend.</description></item>
</channel></rss>
"""


def _writer_busy(db: Path) -> bool:
    """Whether a process holds the warehouse's writer lock (a run is in flight)."""
    import fcntl

    lock = db.with_name(db.name + ".lock")
    if not lock.exists():
        return False
    with open(lock, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def test_scheduled_jobs_from_a_sources_file(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from pmon.flows.serve import DigestSchedule, scheduled_jobs

    (tmp_path / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    jobs = scheduled_jobs(tmp_path / "sources.yaml", tmp_path / "pmon.duckdb",
                          [DigestSchedule("daily", "0 7 * * *", "1d")])
    assert [(j.kind, j.name, j.schedules) for j in jobs] == [
        ("monitor", "longreads", ("0 */6 * * *",)), ("monitor", "news", ("30m",)), ("digest", "daily", ("0 7 * * *",)),
    ]  # `drops` has no schedule: it runs only by hand
    assert jobs[1].parameters["sources"] == 2
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert jobs[0].next_due(noon) == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    assert jobs[1].next_due(noon) == datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
    assert jobs[2].next_due(noon) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_pmon_serve_finishes_the_run_in_flight_on_a_signal(tmp_path: Path, signum: int) -> None:
    from pmon.classifiers.narratives import load_classifier
    from pmon.ingestion.local_server import serve_directory
    from pmon.warehouse import Warehouse

    load_classifier()  # heads trained once for the session's cache, not inside the served process
    media = tmp_path / "media"
    media.mkdir()
    (media / "news.xml").write_text(FEED, encoding="utf-8")
    db = tmp_path / "pmon.duckdb"
    pmon = Path(sys.executable).with_name("pmon")
    with serve_directory(media) as base_url:
        (tmp_path / "sources.yaml").write_text(
            f"sources:\n  - {{id: news, kind: feed, location: '{base_url}/news.xml', group: news, schedule: 10s, "
            "expected_langs: [en], allow_private_network: true}\n", encoding="utf-8")
        # SIGINT ignored, as in a process started with `&` from a script: serve must take it back.
        serving = subprocess.Popen(  # noqa: S603 - our own CLI
            [str(pmon), "serve", "--config", str(tmp_path / "sources.yaml"), "--db", str(db), "--port",
             str(_free_port()), "--no-ui", "--daily-digest", "off", "--weekly-digest", "off"],
            cwd=tmp_path, env=_prefect_env(tmp_path / "home"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509 - before exec
        )
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and serving.poll() is None and not _writer_busy(db):
                time.sleep(0.2)
            assert _writer_busy(db), "no run started"
            serving.send_signal(signum)
            code = serving.wait(timeout=240)
        finally:
            _stop(serving)
        out = serving.stdout.read().decode(errors="replace") if serving.stdout else ""
        err = serving.stderr.read().decode(errors="replace") if serving.stderr else ""
    assert code == 0, out + err[-3000:]
    lines = [line for line in out.splitlines() if "Z monitor news: " in line]  # a run's line starts with its time
    assert len(lines) == 1, out
    assert "1 sources, 3 new documents" in lines[0] and lines[0].endswith(", completed"), lines[0]
    assert f"{signal.Signals(signum).name}: stopping after the run in flight" in out
    assert out.rstrip().endswith("stopped")
    assert "Traceback" not in err and "Crash detected" not in err, err[-3000:]
    with Warehouse.open(db, read_only=True) as wh:
        assert wh.con.execute("SELECT status, documents_new FROM runs").fetchall() == [("completed", 3)]


def test_runs_see_the_prefect_api_serve_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run in serve's worker thread talks to serve's Prefect API, not to an ephemeral server of its own.

    Found by benchmarks/soak.py: the thread lost Prefect's settings context, so each run started an ephemeral API
    server as a child process, which a SIGTERM to serve's process group killed under the run in flight.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from pmon.flows import serve

    seen: list[str | None] = []

    def record(job: serve.ScheduledJob) -> str:
        seen.append(serve._api_url())
        os.kill(os.getpid(), signal.SIGTERM)  # serve's handler: stop after this run
        return "ran"

    monkeypatch.setattr(serve, "run_job", record)
    job = serve.ScheduledJob("monitor", "news", ("1s",), {})
    lines: list[str] = []
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        serve.serve_in_process([job], prefect_server=False, say=lines.append)
    assert seen == ["http://127.0.0.1:9/api"]
    assert lines[-2:] == ["ran", "stopped"]
