"""What a scheduled run costs when nothing is new, by number of sources (issue #7: under 3 s beyond Prefect's start-up).

For each size in `--sources`: writes that many RSS feeds of one short post each (the eight language varieties in
turn), serves them from a child process on 127.0.0.1 (ETag, 304), stores them with a first `monitor` run into a
fresh DuckDB file, then times `--repeat` more runs on the same sources and warehouse. Every source answers 304
to the conditional GET, so nothing is parsed, deduped or embedded. Prints a few readable lines, then one JSON
line last::

    .venv/bin/python benchmarks/noop.py                       # 40 and 500 sources
    .venv/bin/python benchmarks/noop.py --sources 40,200,500,1000 --repeat 5

Per size: ``noop_s`` (median wall seconds of a no-op `monitor` call, as `run_monitor` returns), ``noop_work_s``
(the flow's own stage timer summed: fetch, dedupe, trends...), ``empty_flow_s`` (median wall seconds of a flow
that does nothing, in the same process: Prefect's own cost per flow run, which the goal leaves out),
``beyond_prefect_s`` = noop_s - empty_flow_s (the figure the goal bounds), ``fetch_tasks`` (task runs the flow
submitted), ``encoder_calls`` (must be 0) and ``not_modified`` (sources that answered 304; must be all). Each
timed call starts after a pause of `SETTLE_S` seconds, as scheduled runs do.

With ``--cold N``, each size also times N no-op ``pmon run`` commands, each a fresh process as cron or an operator
starts it: ``cold_run_s`` and ``cold_rss_mb`` (wall seconds and peak RSS of the command), against ``idle_s`` and
``idle_rss_mb``, a fresh process that imports the monitor flow and runs an empty Prefect flow (what any run costs
before it does anything); ``cold_beyond_idle_*`` is the difference (issue #14: under 3 s and 300 MB, no encoder
loaded).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))  # the project, from any directory
sys.path.insert(0, str(BENCHMARKS))  # pipeline.py's corpus and server helpers

from pipeline import (  # noqa: E402
    VARIETIES,
    Doc,
    SentenceSource,
    _rss_item,
    _save_feed,
    _say,
    load_sentence_pool,
    machine,
    media_server,
)

#: Pause before each timed flow call. Prefect's ephemeral server goes on recording a run's task states after
#: the run returns, and a flow started meanwhile waited ~2 s in Prefect's client (a retried create_flow_run):
#: scheduled runs are minutes apart, so each timed call starts on a settled server.
SETTLE_S = 3.0


def write_feeds(out_dir: Path, base_url: str, count: int, seed: int = 7) -> Path:
    """`count` RSS feeds of one short post each, and the sources file that monitors them."""
    rng = random.Random(seed)
    sentences = SentenceSource(load_sentence_pool(), rng)
    now = datetime.now(UTC)
    varieties = list(VARIETIES)
    entries = []
    for index in range(count):
        variety = varieties[index % len(varieties)]
        paragraphs = sentences.post(variety)
        doc = Doc(index + 1, variety, paragraphs, sentences.title(paragraphs[0]),
                  now - timedelta(seconds=rng.randint(60, 30 * 86400)))
        source_id = f"noop-{index:05d}"
        url = _save_feed(out_dir, base_url, source_id, [_rss_item(doc, f"{base_url}/posts/{source_id}/1", doc.body)])
        entries.append(f'  - {{id: {source_id}, kind: feed, location: "{url}", '
                       f"expected_langs: [{variety.split('-')[0]}], allow_private_network: true}}")
    sources = out_dir / "sources.yaml"
    sources.write_text("sources:\n" + "\n".join(entries) + "\n", encoding="utf-8")
    return sources


_IDLE_PROCESS = """
from pmon.flows.monitor import run_monitor  # noqa: F401 - what `pmon run` imports before any work
from prefect import flow

@flow(name="bench-idle")
def idle() -> int:
    return 1

idle()
"""


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `command` run to completion as a child process.

    The peak is the child's VmHWM, read while it runs (the high-water mark of its own image: `ru_maxrss` would
    count the fork of this process, encoder included, before the exec).
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text(encoding="utf-8").splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError, IndexError):  # exiting: the last reading stands
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise RuntimeError(f"{command[:3]} failed ({process.returncode}): {stderr[-800:]}")
    return wall, peak_kb / 1024


def measure_cold(sources: Path, db: Path, repeat: int) -> dict[str, Any]:
    """`repeat` no-op `pmon run` processes against idle processes that only start Prefect, alternating."""
    pmon = Path(sys.executable).with_name("pmon")
    env = dict(os.environ)
    runs, idles = [], []
    for _ in range(repeat):
        time.sleep(SETTLE_S)
        idles.append(timed_process([sys.executable, "-c", _IDLE_PROCESS], env))
        time.sleep(SETTLE_S)
        runs.append(timed_process([str(pmon), "run", "--config", str(sources), "--db", str(db), "--format", "json"],
                                  env))
    run_s, run_mb = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    idle_s, idle_mb = statistics.median(i[0] for i in idles), statistics.median(i[1] for i in idles)
    return {"cold_run_s": round(run_s, 2), "cold_rss_mb": round(run_mb), "idle_s": round(idle_s, 2),
            "idle_rss_mb": round(idle_mb), "cold_beyond_idle_s": round(run_s - idle_s, 2),
            "cold_beyond_idle_mb": round(run_mb - idle_mb), "cold_runs": [[round(w, 2), round(m)] for w, m in runs]}


def measure(size: int, workdir: Path, repeat: int, empty_flow: Any, encoder: Any, cold: int = 0) -> dict[str, Any]:
    """A first run that stores `size` feeds' posts, then `repeat` timed no-op runs."""
    import pmon.flows.monitor as monitor_module
    from pmon.flows.monitor import run_monitor

    media = workdir / f"media-{size}"
    media.mkdir()
    db = workdir / f"noop-{size}.duckdb"
    calls = {"encode": 0, "fetch_tasks": 0}
    original_encode = encoder.encode
    original_submit = monitor_module.fetch_task.submit

    def counting_encode(*args: Any, **kwargs: Any) -> Any:
        calls["encode"] += 1
        return original_encode(*args, **kwargs)

    def counting_submit(*args: Any, **kwargs: Any) -> Any:
        calls["fetch_tasks"] += 1
        return original_submit(*args, **kwargs)

    with media_server(media) as base_url:
        sources = write_feeds(media, base_url, size)
        started = time.perf_counter()
        first = run_monitor(sources, db)
        first_s = time.perf_counter() - started
        _say(f"{size} sources: first run stored {first.documents_new} documents in {first_s:.1f} s")
        walls, works, empties, not_modified = [], [], [], []
        encoder.encode = counting_encode  # an instance attribute shadows the method for this object only
        monitor_module.fetch_task.submit = counting_submit  # type: ignore[method-assign]
        try:
            for _ in range(repeat):
                time.sleep(SETTLE_S)
                started = time.perf_counter()
                empty_flow()
                empties.append(time.perf_counter() - started)
                calls["fetch_tasks"] = 0
                time.sleep(SETTLE_S)
                started = time.perf_counter()
                summary = run_monitor(sources, db)
                walls.append(time.perf_counter() - started)
                works.append(sum(summary.stage_seconds.values()))
                not_modified.append(sum(1 for s in summary.sources if s.not_modified))
                if summary.documents_new:
                    raise RuntimeError(f"a no-op run stored {summary.documents_new} documents")
        finally:
            del encoder.encode
            monitor_module.fetch_task.submit = original_submit  # type: ignore[method-assign]
        cold_figures = measure_cold(sources, db, cold) if cold else {}
    noop_s, empty_s = statistics.median(walls), statistics.median(empties)
    figures = {
        "sources": size, "first_run_s": round(first_s, 2), "documents_stored": first.documents_new,
        "noop_s": round(noop_s, 3), "noop_runs_s": [round(w, 3) for w in walls],
        "noop_work_s": round(statistics.median(works), 3),
        "empty_flow_s": round(empty_s, 3), "beyond_prefect_s": round(noop_s - empty_s, 3),
        "stage_seconds": {k: round(v, 3) for k, v in summary.stage_seconds.items()},
        "fetch_tasks": calls["fetch_tasks"], "encoder_calls": calls["encode"],
        "not_modified": min(not_modified), "status": summary.status, **cold_figures,
    }
    _say(f"{size} sources: no-op run {noop_s:.2f} s (median of {repeat}), flow work {figures['noop_work_s']:.2f} s, "
         f"an empty flow {empty_s:.2f} s -> {figures['beyond_prefect_s']:.2f} s beyond Prefect; "
         f"{calls['fetch_tasks']} fetch tasks, {min(not_modified)}/{size} not modified, "
         f"{calls['encode']} encoder calls")
    if cold:
        _say(f"{size} sources: `pmon run` in a fresh process {cold_figures['cold_run_s']:.2f} s, "
             f"{cold_figures['cold_rss_mb']} MB; an idle process {cold_figures['idle_s']:.2f} s, "
             f"{cold_figures['idle_rss_mb']} MB -> {cold_figures['cold_beyond_idle_s']:.2f} s and "
             f"{cold_figures['cold_beyond_idle_mb']} MB beyond it")
    return figures


def main() -> None:
    """Parse the options, measure each size, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="40,500", help="comma-separated numbers of sources (default 40,500)")
    parser.add_argument("--repeat", type=int, default=3, help="timed no-op runs per size (default 3)")
    parser.add_argument("--cold", type=int, default=0,
                        help="also time this many no-op `pmon run` commands, each a fresh process (default 0)")
    parser.add_argument("--workdir", help="scratch folder (default: a temporary one, removed afterwards)")
    args = parser.parse_args()
    try:
        sizes = [int(n) for n in args.sources.split(",") if n.strip()]
    except ValueError:
        parser.error("--sources: comma-separated integers, e.g. 40,500")
    if not sizes or min(sizes) < 1 or args.repeat < 1 or args.cold < 0:
        parser.error("--sources and --repeat must be >= 1")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pmon-bench-noop-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # Before anything imports Prefect: a fresh, hermetic ephemeral server in the scratch folder.
    os.environ["PREFECT_HOME"] = str(workdir / ".prefect")
    os.environ.setdefault("PMON_DATA_DIR", str(workdir))
    load_before = os.getloadavg()
    try:
        from pmon.classifiers.narratives import load_classifier
        from pmon.flows.monitor import run_monitor  # noqa: F401 - first: flows.settings configures Prefect

        # isort: split
        from prefect import flow

        started = time.perf_counter()
        encoder = load_classifier().encoder  # the flow's own classifier (cached per process): loaded once, here

        @flow(name="bench-empty")
        def empty_flow() -> int:
            return 1

        empty_flow()  # Prefect's ephemeral start-up, kept out of the figures
        _say(f"model and Prefect started in {time.perf_counter() - started:.1f} s")
        results = [measure(size, workdir, args.repeat, empty_flow, encoder, args.cold) for size in sizes]
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"benchmark": "noop", "sizes": results,
                      "machine": {**machine(), "load_before": [round(x, 2) for x in load_before],
                                  "load_after": [round(x, 2) for x in os.getloadavg()]}}, ensure_ascii=False))


if __name__ == "__main__":
    main()
