"""Soak test (issue #14): `pmon serve` on a short schedule while the UI and the CLI read, for a bounded time.

Everything runs on this machine, on 127.0.0.1:

* a local HTTP server (`pmon.ingestion.local_server.serve_directory`) serves three RSS feeds that grow by one
  mild synthetic item every few seconds (the everyday news sentences of the gold files in English, Tajik, Uzbek
  and Dari, numbered so each item is new), and a JSONL drop file is appended to now and then;
* `pmon serve` runs them on an interval schedule (`--interval` seconds; the drop every second interval), with its
  own Prefect server; `pmon ui` serves the same warehouse; each in its own process group, output to files;
* one thread calls `pmon runs`, `pmon trends --format json`, `pmon alerts` and `pmon quarantine` in turn, another
  fetches the UI's pages and `/api/trends`, `/api/runs`, and now and then posts a review verdict with the page's
  CSRF token;
* at the end (or on Ctrl-C) SIGTERM goes to each process group; serve must finish its run in flight and exit 0.

Figures (stdout, one JSON line last, and `<workdir>/soak.json`): minutes, scheduled runs by ending, documents
stored, CLI calls and failures by command, UI requests and non-200 answers by path, tracebacks in any captured
output, exit statuses, median/p95 latency of CLI reads and UI pages. Exits 1 on any traceback or failure::

    PMON_CACHE_DIR=/work/dev/cache nice .venv/bin/python benchmarks/soak.py --minutes 8 --workdir /tmp/soak
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape, unescape
from pathlib import Path
from typing import Any

import httpx
import yaml

from pmon.ingestion.local_server import serve_directory
from pmon.sample_media.build import GOLD_DIR, load_gold

PMON = str(Path(sys.executable).with_name("pmon"))
TRACEBACK = "Traceback (most recent call last)"
FEEDS = {"soak-en": "en-Latn", "soak-tg": "tg-Cyrl", "soak-uz": "uz-Latn"}
DROP = ("soak-drop", "fa-Arab")
ITEMS_PER_FEED = 40  # a feed keeps its latest items, as a real one does
CLI_READS = [
    ["runs"], ["trends", "--format", "json", "--since", "30d"], ["alerts"], ["quarantine"],
]
UI_PAGES = ["/", "/runs", "/sources", "/alerts", "/review", "/search?q=market", "/api/trends", "/api/runs"]
# A reader next to a run waits for it (docs/operating.md); the first run also loads the encoder, so be generous.
READ_WAIT_SECONDS = 600
# A serve line: "<start> monitor <group>: ..., <seconds> s, <status>" (status: completed, completed_with_errors,
# failed, or "failed: <error>" when the run raised).
RUN_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:]+Z (monitor|digest) (\S+): .*?, [\d.]+ s, (\w+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the media -------------------------------------------------------------------------------------------------
class Media:
    """Feeds and a drop that grow: items are mild everyday sentences, numbered so none is a duplicate."""

    def __init__(self, root: Path, seed: int = 14) -> None:
        self.root = root
        (root / "feeds").mkdir(parents=True, exist_ok=True)
        gold = load_gold(GOLD_DIR)
        self.sentences = {v: [s.text for s in gold[v] if s.kind == "everyday"] for v in {*FEEDS.values(), DROP[1]}}
        self.items: dict[str, list[dict[str, str]]] = {feed: [] for feed in FEEDS}
        self.rng = random.Random(seed)
        self.count = 0
        self.drop_lines = 0
        self.drop_path = root / "drop.jsonl"
        self.drop_path.touch()
        for feed in FEEDS:
            for _ in range(3):
                self.add_item(feed)

    def _item(self, variety: str) -> dict[str, str]:
        self.count += 1
        text = self.rng.choice(self.sentences[variety])
        return {"id": f"soak-{self.count}", "title": f"{text.split()[0]} … ({self.count})",
                "text": f"{text} ({self.count})", "published_at": datetime.now(UTC).isoformat(timespec="seconds")}

    def add_item(self, feed: str | None = None) -> None:
        feed = feed or self.rng.choice(list(FEEDS))
        items = self.items[feed]
        items.append(self._item(FEEDS[feed]))
        del items[:-ITEMS_PER_FEED]
        entries = "".join(
            f"<item><guid isPermaLink=\"false\">{i['id']}</guid><title>{escape(i['title'])}</title>"
            f"<link>https://{feed}.example/{i['id']}</link><description>{escape(i['text'])}</description>"
            f"<pubDate>{email.utils.format_datetime(datetime.fromisoformat(i['published_at']))}</pubDate></item>\n"
            for i in reversed(items))
        body = (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{feed}</title>'
                f"<link>https://{feed}.example/</link><description>soak feed</description>\n{entries}"
                "</channel></rss>\n")
        # Written aside then renamed: the server never reads half a feed.
        tmp = self.root / "feeds" / f".{feed}.xml.tmp"
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(self.root / "feeds" / f"{feed}.xml")

    def append_drop(self) -> None:
        line = json.dumps(self._item(DROP[1]), ensure_ascii=False) + "\n"
        # One write of a whole line in append mode: a run reading the file meanwhile sees whole lines only.
        fd = os.open(self.drop_path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        self.drop_lines += 1


def write_sources(path: Path, base_url: str, drop: Path, interval: int) -> None:
    sources: list[dict[str, Any]] = [
        {"id": feed, "kind": "feed", "location": f"{base_url}/feeds/{feed}.xml", "group": "news",
         "schedule": f"{interval}s", "expected_langs": [variety.split("-")[0]], "allow_private_network": True}
        for feed, variety in FEEDS.items()
    ]
    sources.append({"id": DROP[0], "kind": "jsonl", "location": str(drop), "group": "drops",
                    "schedule": f"{2 * interval}s", "expected_langs": [DROP[1].split("-")[0]]})
    path.write_text(yaml.safe_dump({"sources": sources}, sort_keys=False), encoding="utf-8")


# -- processes -------------------------------------------------------------------------------------------------
def child_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(workdir / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1", "PREFECT_LOGGING_LEVEL": "WARNING",
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"})
    return env


def start(name: str, args: list[str], workdir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child in its own session (so its own process group, out of reach of the terminal's Ctrl-C)."""
    logs = workdir / "logs"
    with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            args, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)


def stop_group(process: subprocess.Popen[bytes], grace: float) -> tuple[int | None, float, bool]:
    """SIGTERM to the process group, SIGKILL after `grace` s; (exit status, seconds to stop, whether killed)."""
    started = time.monotonic()
    if process.poll() is not None:
        return process.returncode, 0.0, False
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
        return process.returncode, time.monotonic() - started, False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        return process.returncode, time.monotonic() - started, True


# -- readers ---------------------------------------------------------------------------------------------------
@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    calls: Counter[str] = field(default_factory=Counter)
    bad: Counter[str] = field(default_factory=Counter)  # CLI: exit status != 0; UI: answers that are not 200
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)  # one line each, for the report
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, key: str, seconds: float, status: str, ok: bool, note: str = "") -> None:
        with self.lock:
            self.calls[key] += 1
            self.latencies[key].append(seconds)
            self.statuses[key][status] += 1
            if not ok:
                self.bad[key] += 1
                self.failures.append(f"{key}: {status} {note}".strip()[:400])

    def summary(self) -> dict[str, Any]:
        return {key: {"calls": self.calls[key], "not_ok": self.bad[key], "statuses": dict(self.statuses[key]),
                      **percentiles(self.latencies[key])} for key in sorted(self.calls)}


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median_s": None, "p95_s": None}
    p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
    return {"median_s": round(statistics.median(values), 3), "p95_s": round(p95, 3)}


def cli_reader(db: Path, workdir: Path, env: dict[str, str], stop: threading.Event, tally: Tally,
               pause: float) -> None:
    outputs = workdir / "logs" / "cli"
    outputs.mkdir(exist_ok=True)
    n = 0
    while not stop.is_set():
        args = CLI_READS[n % len(CLI_READS)]
        n += 1
        started = time.monotonic()
        done = subprocess.run([PMON, *args, "--db", str(db), "--wait", str(READ_WAIT_SECONDS)],  # noqa: S603
                              cwd=workdir, env=env, capture_output=True, start_new_session=True,
                              timeout=READ_WAIT_SECONDS + 120, check=False)
        seconds = time.monotonic() - started
        text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        if done.returncode != 0 or TRACEBACK in text:
            # Kept for the traceback search and for reading afterwards.
            (outputs / f"{n:05d}-{args[0]}.txt").write_text(text, encoding="utf-8")
        if args[0] == "trends" and done.returncode == 0:
            try:
                json.loads(done.stdout)
            except ValueError:
                tally.record("pmon trends (JSON)", 0.0, "not JSON", False, done.stdout[:200].decode("utf-8", "replace"))
        last = text.strip().splitlines()[-1] if text.strip() else ""
        tally.record(f"pmon {args[0]}", seconds, f"exit {done.returncode}", done.returncode == 0, last)
        stop.wait(pause)


def ui_reader(base: str, stop: threading.Event, tally: Tally, pause: float, post_every: int) -> None:
    from pmon.schemas.codebook import load_codebook

    leaf = load_codebook().leaf_ids[0]
    n = 0
    with httpx.Client(base_url=base, timeout=120, follow_redirects=False) as client:
        while not stop.is_set():
            n += 1
            paths = list(UI_PAGES)
            try:
                docs = client.get("/api/documents", params={"limit": 1})
                if docs.status_code == 200 and docs.json():
                    paths.append(f"/documents/{docs.json()[0]['id']}")
            except (httpx.HTTPError, ValueError, KeyError):
                pass  # the pages below report the UI's state
            for path in paths:
                if stop.is_set():
                    return
                fetch(client, path, tally)
            if n % post_every == 0:
                post_verdict(client, tally, leaf)
            stop.wait(pause)


def fetch(client: httpx.Client, path: str, tally: Tally) -> httpx.Response | None:
    key = "GET " + re.sub(r"/documents/[^/?]+", "/documents/{id}", path)
    started = time.monotonic()
    try:
        answer = client.get(path)
    except httpx.HTTPError as exc:
        tally.record(key, time.monotonic() - started, type(exc).__name__, False, str(exc))
        return None
    status = str(answer.status_code)
    # 503 with Retry-After is the documented "busy" page: no snapshot yet while the first run holds the file.
    busy = answer.status_code == 503 and "retry-after" in answer.headers
    tally.record(key, time.monotonic() - started, status, answer.status_code == 200,
                 "busy page (no snapshot yet)" if busy else answer.text[:200])
    if TRACEBACK in answer.text:
        tally.record("UI answer with a traceback", 0.0, status, False, path)
    return answer


def post_verdict(client: httpx.Client, tally: Tally, leaf: str) -> None:
    """Reject the first item of the review queue (everyday news is no narrative), as an analyst would; with an
    empty queue, reject narrative `leaf` for the newest document. The CSRF token comes from the page's meta tag."""
    page = fetch(client, "/review", tally)
    if page is None or page.status_code != 200:
        return
    token = re.search(r'<meta name="csrf-token" content="([^"]*)"', page.text)
    form = re.search(r'<form method="post" action="/review".*?</form>', page.text, re.S)
    if form:
        fields = dict(re.findall(r'name="(narrative)" value="([^"]*)"', form.group(0)))
        narrative = unescape(fields.get("narrative", ""))
        documents = [unescape(d) for d in re.findall(r'name="document_id" value="([^"]*)"', form.group(0))]
    else:
        newest = client.get("/api/documents", params={"limit": 1})
        if newest.status_code != 200 or not newest.json():
            return
        narrative, documents = leaf, [newest.json()[0]["id"]]
    data = {"csrf": unescape(token.group(1)) if token else "", "narrative": narrative, "verdict": "reject",
            "next": "/review", "document_id": documents}
    started = time.monotonic()
    try:
        answer = client.post("/review", data=data)
    except httpx.HTTPError as exc:
        tally.record("POST /review", time.monotonic() - started, type(exc).__name__, False, str(exc))
        return
    tally.record("POST /review", time.monotonic() - started, str(answer.status_code), answer.status_code == 303,
                 answer.text[:200])


# -- figures ---------------------------------------------------------------------------------------------------
def find_tracebacks(workdir: Path) -> dict[str, dict[str, Any]]:
    """Every captured output (serve, UI, Prefect server, kept CLI outputs): tracebacks and the first one's end."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted([*(workdir / "logs").rglob("*"), *(workdir / "prefect-home").rglob("*.log")]):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        count = text.count(TRACEBACK)
        if count:
            first = text[text.index(TRACEBACK):]
            lines = first.splitlines()
            end = next((i for i, line in enumerate(lines[1:], 1) if line and not line.startswith(" ")), len(lines) - 1)
            found[str(path.relative_to(workdir))] = {"count": count, "first": "\n".join(lines[: end + 1])[-3000:]}
    return found


def serve_runs(workdir: Path) -> dict[str, Any]:
    lines = (workdir / "logs" / "serve.out").read_text(encoding="utf-8", errors="replace").splitlines()
    endings: Counter[str] = Counter()
    failed = []
    for line in lines:
        match = RUN_LINE.match(line)
        if match:
            endings[f"{match.group(1)} {match.group(2)}: {match.group(3)}"] += 1
            if match.group(3) != "completed":
                failed.append(line[:500])
    return {"lines": dict(endings), "completed": sum(v for k, v in endings.items() if k.endswith(": completed")),
            "not_completed": len(failed), "not_completed_lines": failed[:20], "last_line": lines[-1] if lines else ""}


def warehouse_figures(db: Path) -> dict[str, Any]:
    from pmon.warehouse import Warehouse
    from pmon.warehouse.runs import list_runs

    with Warehouse.open(db, read_only=True, wait_seconds=60) as wh:
        runs = list_runs(wh.con, limit=100_000)
        return {"documents": wh.count("documents"), "detections": wh.count("detections"),
                "quarantine": wh.count("quarantine"), "analyst_labels": wh.count("analyst_labels"),
                "runs_by_status": dict(Counter(str(r["ended"]) for r in runs))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long serve runs (default 30)")
    parser.add_argument("--workdir", type=Path, default=None, help="where everything goes (default: a new temp dir)")
    parser.add_argument("--interval", type=int, default=20, help="seconds of the feeds' schedule (default 20)")
    parser.add_argument("--item-seconds", type=float, default=4.0, help="a new feed item every this many seconds")
    parser.add_argument("--read-pause", type=float, default=3.0, help="seconds between two reads of each reader")
    args = parser.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="pmon-soak-"))).resolve()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    db, sources = workdir / "pmon.duckdb", workdir / "sources.yaml"
    env = child_env(workdir)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    load_before = os.getloadavg()
    print(f"soak: {args.minutes} min in {workdir}, schedule {args.interval} s, load {load_before[0]:.1f}",
          file=sys.stderr)

    media = Media(workdir / "media")
    tally = Tally()
    with serve_directory(workdir / "media") as base_url:
        write_sources(sources, base_url, media.drop_path, args.interval)
        started = time.monotonic()
        deadline = started + args.minutes * 60
        serve = start("serve", [PMON, "serve", "--config", str(sources), "--db", str(db), "--port", str(free_port()),
                                "--no-ui", "--digest-out", str(workdir / "digests")], workdir, env)
        ui: subprocess.Popen[bytes] | None = None
        readers: list[threading.Thread] = []
        next_item = time.monotonic()
        while not stop.is_set() and time.monotonic() < deadline and serve.poll() is None:
            if time.monotonic() >= next_item:
                media.add_item()
                if media.count % 5 == 0:
                    media.append_drop()
                next_item += args.item_seconds
            if ui is None and db.exists():  # `pmon ui` needs the warehouse; the first run creates it
                port = free_port()
                ui = start("ui", [PMON, "ui", "--db", str(db), "--port", str(port), "--analyst", "soak"], workdir, env)
                readers = [
                    threading.Thread(target=cli_reader, args=(db, workdir, env, stop, tally, args.read_pause),
                                     name="cli-reader", daemon=True),
                    threading.Thread(target=ui_reader_when_up, args=(port, ui, stop, tally, args.read_pause),
                                     name="ui-reader", daemon=True),
                ]
                for thread in readers:
                    thread.start()
                print(f"soak: warehouse created after {time.monotonic() - started:.0f} s; UI and readers started",
                      file=sys.stderr)
            stop.wait(0.5)
        ran = time.monotonic() - started
        serve_died = serve.poll()
        print(f"soak: stopping after {ran / 60:.1f} min", file=sys.stderr)
        stop.set()
        # serve first: it finishes the run in flight (the first one may still be loading the encoder).
        serve_code, serve_stop_s, serve_killed = stop_group(serve, grace=600)
        for thread in readers:
            thread.join(timeout=READ_WAIT_SECONDS + 150)
        # uvicorn shuts down cleanly on SIGTERM, then re-raises it: its exit status is -15, not 0.
        ui_code, _, ui_killed = stop_group(ui, grace=60) if ui else (None, 0.0, False)

    runs = serve_runs(workdir)
    stored = warehouse_figures(db) if db.exists() else {}
    tracebacks = find_tracebacks(workdir)
    cli = {k: v for k, v in tally.summary().items() if k.startswith("pmon ")}
    ui_figures = {k: v for k, v in tally.summary().items() if not k.startswith("pmon ")}
    failures = list(tally.failures)
    if serve_died is not None:
        failures.append(f"pmon serve exited by itself with status {serve_died}")
    if serve_code != 0 or serve_killed:
        killed = " (killed after 600 s)" if serve_killed else ""
        failures.append(f"pmon serve: exit status {serve_code} after SIGTERM{killed}")
    if ui_killed:
        failures.append("pmon ui did not stop within 60 s of SIGTERM")
    failures += [f"serve: {line}" for line in runs["not_completed_lines"]]
    busy_only = [f for f in failures if "busy page (no snapshot yet)" in f]
    report = {
        "benchmark": "soak",
        "minutes": round(ran / 60, 2), "interval_s": args.interval, "workdir": str(workdir),
        "machine": {"cpus": os.cpu_count(), "load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()]},
        "media": {"feed_items": media.count - media.drop_lines, "drop_lines": media.drop_lines},
        "serve": {"runs": runs, "exit_status": serve_code, "stop_seconds": round(serve_stop_s, 1),
                  "killed": serve_killed},
        "ui_exit_status": ui_code,
        "stored": stored,
        "cli": cli, "ui": ui_figures,
        "tracebacks": {"total": sum(t["count"] for t in tracebacks.values()), "by_file": tracebacks},
        # The busy page before the first snapshot is documented behaviour; everything else counts.
        "failures": [f for f in failures if f not in busy_only],
        "busy_pages": len(busy_only),
    }
    (workdir / "soak.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print_summary(report)
    print(json.dumps(report, ensure_ascii=False))
    return 1 if report["tracebacks"]["total"] or report["failures"] else 0


def ui_reader_when_up(port: int, ui: subprocess.Popen[bytes], stop: threading.Event, tally: Tally,
                      pause: float) -> None:
    base = f"http://127.0.0.1:{port}"
    while not stop.is_set() and ui.poll() is None:
        try:
            httpx.get(base + "/static/", timeout=5)
            break
        except httpx.HTTPError:
            stop.wait(0.5)
    if ui.poll() is not None:
        tally.record("pmon ui start", 0.0, f"exit {ui.returncode}", False, "the UI exited at start-up")
        return
    ui_reader(base, stop, tally, pause, post_every=5)


def print_summary(report: dict[str, Any]) -> None:
    out = sys.stderr
    runs = report["serve"]["runs"]
    print(f"\n{report['minutes']} min, load {report['machine']['load_before'][0]} -> "
          f"{report['machine']['load_after'][0]} on {report['machine']['cpus']} CPUs", file=out)
    print(f"scheduled runs: {runs['completed']} completed, {runs['not_completed']} not; {runs['lines']}", file=out)
    print(f"serve exit status {report['serve']['exit_status']} ({report['serve']['stop_seconds']} s to stop); "
          f"ui exit status {report['ui_exit_status']}", file=out)
    print(f"stored: {report['stored']}", file=out)
    for group in ("cli", "ui"):
        for key, row in report[group].items():
            print(f"  {key:40} {row['calls']:5} calls {row['not_ok']:4} not ok  median {row['median_s']} s  "
                  f"p95 {row['p95_s']} s  {row['statuses']}", file=out)
    print(f"tracebacks: {report['tracebacks']['total']} {list(report['tracebacks']['by_file'])}", file=out)
    print(f"failures: {len(report['failures'])}; busy pages before the first snapshot: {report['busy_pages']}",
          file=out)
    for line in report["failures"][:20]:
        print(f"  {line}", file=out)


if __name__ == "__main__":
    sys.exit(main())
