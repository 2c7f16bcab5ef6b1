"""`pmon serve`: the sources file as Prefect deployments, served by this process on their schedules.

* one deployment per source group, running the `monitor` flow for that group on the group's schedule (an
  interval or cron from the sources file), retried with exponential back-off when a run fails;
* a digest deployment per digest schedule (daily and weekly by default);
* runs that touch the same warehouse never overlap: each deployment has a concurrency limit of 1 (a run due
  while the last one still runs is skipped), and every run takes the slot of a global concurrency limit named
  after the warehouse (`pmon-warehouse-<hash>`, limit 1), so monitoring and digests queue for each other;
* schedules need a Prefect server (they never fire in ephemeral mode): unless `PREFECT_API_URL` names one, a
  `prefect server start --host 127.0.0.1 --port N` is started as a child process and stopped, by its process id,
  when serving ends (Ctrl-C or SIGTERM).

Example:
    >>> deployments = build_deployments("sources.yaml", "data/pmon.duckdb")   # doctest: +SKIP
    >>> serve_deployments(deployments, db_path="data/pmon.duckdb")            # doctest: +SKIP
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

import httpx

from pmon.flows import settings as _settings  # noqa: F401 - before prefect

# isort: split
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from pmon.settings import DEFAULT_DB

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Schedule

    from pmon.schemas.sources import SourceConfig

__all__ = [
    "DigestSchedule",
    "PrefectServer",
    "PrefectServerError",
    "ScheduledJob",
    "build_deployments",
    "group_schedules",
    "register_deployments",
    "run_job",
    "scheduled_jobs",
    "scheduled_monitor",
    "serve_deployments",
    "serve_in_process",
    "warehouse_limit_name",
    "warehouse_slot",
]

#: Default digests: every morning (the last day) and every Monday morning (the last week), UTC.
DEFAULT_DIGESTS = (("daily", "0 7 * * *", "1d"), ("weekly", "0 7 * * 1", "7d"))


class PrefectServerError(RuntimeError):
    """The local Prefect server did not start (port taken, start-up failed or too slow)."""


# -- one warehouse, one run at a time ----------------------------------------------------------------------------
def warehouse_limit_name(db_path: str | Path) -> str:
    """Name of the global concurrency limit that serialises runs on one warehouse file."""
    digest = hashlib.sha256(str(Path(db_path).resolve()).encode()).hexdigest()[:12]
    return f"pmon-warehouse-{digest}"


def _api_url() -> str | None:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def warehouse_slot(db_path: str | Path, timeout_seconds: float | None = None) -> Any:
    """Hold the warehouse's concurrency slot (a no-op in ephemeral mode, where nothing runs on a schedule)."""
    if not _api_url():
        return nullcontext()
    from prefect.concurrency.sync import concurrency

    # lease_duration: a run killed without releasing its slot frees it after this long.
    return concurrency(warehouse_limit_name(db_path), occupy=1, timeout_seconds=timeout_seconds, lease_duration=900)


def ensure_warehouse_limit(db_path: str | Path) -> str:
    """Create (or reset to 1) the warehouse's global concurrency limit on the current Prefect server."""
    from prefect.client.orchestration import get_client

    name = warehouse_limit_name(db_path)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)
    return name


# -- the scheduled monitoring run --------------------------------------------------------------------------------
@task(retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=30), cache_policy=NO_CACHE)
def monitor_pass(sources_path: str, db_path: str, group: str, wait_seconds: float) -> dict[str, Any]:
    """One monitoring pass over a source group (retried after 30 s, then 60 s, if it fails)."""
    from pmon.flows.monitor import monitor

    with warehouse_slot(db_path, timeout_seconds=wait_seconds):
        summary = monitor(sources_path, db_path, group=group, wait_seconds=wait_seconds)
    return summary.as_record()


@flow(name="scheduled-monitor", log_prints=False)
def scheduled_monitor(
    sources_path: str, db_path: str = str(DEFAULT_DB), group: str = "default", wait_seconds: float = 600.0
) -> dict[str, Any]:
    """Monitor one source group, as its deployment's schedule asks (the `monitor` flow runs as a subflow).

    Args:
        sources_path: the sources YAML file.
        db_path: the DuckDB warehouse.
        group: the source group to run.
        wait_seconds: how long to wait for the warehouse (its concurrency slot, then its writer lock).
    """
    return monitor_pass(sources_path, db_path, group, wait_seconds)


# -- deployments -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DigestSchedule:
    """A digest deployment: its name, cron (UTC), window and deliveries."""

    name: str
    cron: str
    since: str
    out_dir: str | None = "data/digests"
    email: tuple[str, ...] = ()
    smtp: str | None = None
    webhook: tuple[str, ...] = ()


def _schedule(text: str) -> Schedule:
    from prefect.schedules import Cron, Interval

    from pmon.schemas.sources import parse_interval

    seconds = parse_interval(text)
    return Interval(seconds) if seconds is not None else Cron(text, timezone="UTC")


def group_schedules(sources: Sequence[SourceConfig]) -> dict[str, list[str]]:
    """The schedule(s) of each group of enabled sources, as written in the sources file.

    A group whose sources all use intervals runs at the shortest one (no source is polled less often than it
    asks; conditional GET keeps the others cheap). Cron expressions are all kept (a deployment may have several
    schedules). A group without any schedule gets none: it runs when started from the UI or `pmon run --group`.
    """
    from pmon.schemas.sources import parse_interval

    by_group: dict[str, list[str]] = {}
    for source in sources:
        if not source.enabled:
            continue
        schedules = by_group.setdefault(source.group, [])
        if source.schedule and source.schedule not in schedules:
            schedules.append(source.schedule)
    result: dict[str, list[str]] = {}
    for group, schedules in by_group.items():
        intervals = [s for s in schedules if parse_interval(s) is not None]
        crons = [s for s in schedules if parse_interval(s) is None]
        shortest = [min(intervals, key=lambda s: parse_interval(s) or 0)] if intervals else []
        result[group] = shortest + crons
    return result


def build_deployments(
    sources_path: str | Path,
    db_path: str | Path,
    digests: Sequence[DigestSchedule] | None = None,
    wait_seconds: float = 600.0,
) -> list[RunnerDeployment]:
    """Deployments for `serve_deployments`: one per source group, plus the digests.

    Args:
        sources_path: the sources YAML file (validated here).
        db_path: the warehouse every deployment writes to.
        digests: digest deployments (default: daily and weekly into `data/digests`); `[]` for none.
        wait_seconds: how long a run waits for the warehouse.

    Raises:
        schemas.sources.SourcesFileError: the sources file is invalid.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.types.entrypoint import EntrypointType

    from pmon.flows.digest import digest as digest_flow
    from pmon.schemas.sources import load_sources

    sources_path = str(Path(sources_path).resolve())
    db_path = str(Path(db_path).resolve())
    stem = Path(db_path).stem
    config = load_sources(sources_path)
    if digests is None:
        digests = [DigestSchedule(name, cron, since) for name, cron, since in DEFAULT_DIGESTS]
    # A run due while the previous one of the same deployment still runs is skipped rather than queued.
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    # Prefect's async_dispatch types to_deployment as "deployment or coroutine"; from sync code it is the deployment.
    deployments: list[RunnerDeployment] = []
    for group, schedules in sorted(group_schedules(config.sources).items()):
        members = [s.id for s in config.sources if s.enabled and s.group == group]
        deployments.append(cast("RunnerDeployment", scheduled_monitor.to_deployment(
            name=f"{stem}-{group}",
            schedules=[_schedule(s) for s in schedules],
            parameters={"sources_path": sources_path, "db_path": db_path, "group": group, "wait_seconds": wait_seconds},
            concurrency_limit=one_at_a_time,
            description=f"Monitor source group {group!r} ({', '.join(members)}) into {db_path}; "
            f"schedule: {', '.join(schedules) or 'manual'}.",
            tags=["pmon", "monitor", f"group:{group}", f"warehouse:{stem}"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        )))
    for d in digests:
        deployments.append(cast("RunnerDeployment", digest_flow.to_deployment(
            name=f"{stem}-{d.name}",
            schedules=[_schedule(d.cron)],
            parameters={
                "db_path": db_path, "since": d.since, "out_dir": str(Path(d.out_dir).resolve()) if d.out_dir else None,
                "email": list(d.email), "smtp": d.smtp, "webhook": list(d.webhook), "wait_seconds": wait_seconds,
            },
            concurrency_limit=one_at_a_time,
            description=f"Digest of the last {d.since} of {db_path} (cron {d.cron!r}, UTC).",
            tags=["pmon", "digest", f"warehouse:{stem}"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        )))
    return deployments


# -- the Prefect server ------------------------------------------------------------------------------------------
@dataclass
class PrefectServer:
    """`prefect server start` on 127.0.0.1 as a child process (its own process group), stopped by its pid.

    Example:
        >>> with PrefectServer(port=4200) as server:     # doctest: +SKIP
        ...     server.api_url
        'http://127.0.0.1:4200/api'
    """

    port: int = 4200
    ui: bool = True
    startup_seconds: float = 120.0
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def api_url(self) -> str:
        """The server's API, as PREFECT_API_URL expects it."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> PrefectServer:
        """Start the server and wait until `/api/health` answers.

        Raises:
            PrefectServerError: the port is taken, the server exited, or it was not healthy in time.
        """
        if _answers(f"http://127.0.0.1:{self.port}/api/health"):
            raise PrefectServerError(
                f"something already listens on 127.0.0.1:{self.port}; if it is a Prefect server, set "
                f"PREFECT_API_URL=http://127.0.0.1:{self.port}/api to use it, or pick another --port"
            )
        env = dict(os.environ)
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_SERVER_UI_ENABLED"] = "true" if self.ui else "false"
        home = Path(env.get("PREFECT_HOME", "data/.prefect"))
        home.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path or home / f"server-{self.port}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - the child writes to it for its whole life
        prefect_cli = Path(sys.executable).with_name("prefect")
        command = [str(prefect_cli)] if prefect_cli.exists() else [sys.executable, "-m", "prefect"]
        self.process = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
            [*command, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its workers too
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - runs before exec
        )
        log.close()
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-1500:]
                self.process = None
                raise PrefectServerError(f"prefect server exited at start-up (log {log_path}):\n{tail}")
            if _answers(f"{self.api_url}/health"):
                return self
            time.sleep(0.5)
        self.stop()
        raise PrefectServerError(f"prefect server was not healthy within {self.startup_seconds:.0f} s (log {log_path})")

    def stop(self, grace_seconds: float = 15.0) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL after `grace_seconds`); idempotent."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> PrefectServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the parent dies, even by SIGKILL (no orphaned server)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def prefect_api(port: int = 4200, ui: bool = True) -> Iterator[str]:
    """The Prefect API to use: PREFECT_API_URL when set, else a local server started (and stopped) here."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    server = PrefectServer(port=port, ui=ui)
    try:
        server.start()
        # Flow runs execute in child processes that read the environment; this process reads its settings.
        os.environ["PREFECT_API_URL"] = server.api_url
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


def register_deployments(
    deployments: Sequence[RunnerDeployment], work_pool: str, db_path: str | Path | None = None
) -> list[str]:
    """Register deployments with the server of PREFECT_API_URL for a work pool's workers to run (nothing is
    served here). The workers need pmon installed (`pip install -e .`) and the same paths to the sources file and
    warehouse; a `process` pool fits: `prefect work-pool create NAME --type process`, then
    `prefect worker start --pool NAME` beside the warehouse.

    Returns:
        The deployments' ids.

    Raises:
        PrefectServerError: PREFECT_API_URL is not set (a work pool lives on a server).
    """
    if not os.environ.get("PREFECT_API_URL"):
        raise PrefectServerError("--work-pool needs PREFECT_API_URL pointing at the Prefect server that has the pool")
    if db_path is not None:
        ensure_warehouse_limit(db_path)
    return [str(deployment.apply(work_pool_name=work_pool)) for deployment in deployments]


class _Stop(Exception):
    """SIGTERM before the runner took over its handling."""


def serve_deployments(
    deployments: Sequence[RunnerDeployment],
    db_path: str | Path | None = None,
    port: int = 4200,
    ui: bool = True,
) -> None:
    """Serve deployments from this process until Ctrl-C or SIGTERM, with a Prefect server as needed.

    Args:
        deployments: from `build_deployments` (or any `flow.to_deployment(...)`).
        db_path: the warehouse, whose global concurrency limit is created on the server first.
        port: port of the local server started when PREFECT_API_URL is not set.
        ui: serve Prefect's UI from that local server.

    Raises:
        PrefectServerError: the local server could not be started.
    """
    from prefect import serve

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    # Until the runner installs its own handler, SIGTERM must still unwind through the `finally` that stops
    # the server; the runner's handler then shuts it down gracefully and `serve` returns.
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with prefect_api(port=port, ui=ui) as api_url:
            if db_path is not None:
                ensure_warehouse_limit(db_path)
            print(f"serving {len(deployments)} deployments on {api_url}", flush=True)  # noqa: T201 - CLI feedback
            serve(*deployments, print_starting_message=False)
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- serving in this process -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduledJob:
    """One thing `serve_in_process` runs on its schedules: a source group's monitoring pass or a digest.

    Attributes:
        kind: ``"monitor"`` or ``"digest"``.
        name: the group, or the digest's name.
        schedules: intervals (``"10s"``, ``"30m"``) or cron expressions (UTC), as in the sources file.
        parameters: the keyword arguments of the flow it runs.
    """

    kind: str
    name: str
    schedules: tuple[str, ...]
    parameters: dict[str, Any] = field(hash=False)

    def next_due(self, after: datetime) -> datetime | None:
        """The earliest time after `after` that one of the schedules names; None without schedules."""
        from cronsim import CronSim

        from pmon.schemas.sources import parse_interval

        times = []
        for text in self.schedules:
            seconds = parse_interval(text)
            times.append(after + timedelta(seconds=seconds) if seconds is not None else next(CronSim(text, after)))
        return min(times, default=None)


def scheduled_jobs(
    sources_path: str | Path, db_path: str | Path, digests: Sequence[DigestSchedule] | None = None,
    wait_seconds: float = 600.0,
) -> list[ScheduledJob]:
    """What `serve_in_process` runs: each source group on its schedule(s), then the digests.

    Raises:
        schemas.sources.SourcesFileError: the sources file is invalid.
    """
    from pmon.schemas.sources import load_sources

    sources_path, db_path = str(Path(sources_path).resolve()), str(Path(db_path).resolve())
    config = load_sources(sources_path)
    if digests is None:
        digests = [DigestSchedule(name, cron, since) for name, cron, since in DEFAULT_DIGESTS]
    jobs = [
        ScheduledJob("monitor", group, tuple(schedules), {
            "sources_path": sources_path, "db_path": db_path, "group": group, "wait_seconds": wait_seconds,
            "sources": sum(1 for s in config.sources if s.enabled and s.group == group),
        })
        for group, schedules in sorted(group_schedules(config.sources).items()) if schedules
    ]
    jobs += [
        ScheduledJob("digest", d.name, (d.cron,), {
            "db_path": db_path, "since": d.since, "out_dir": str(Path(d.out_dir).resolve()) if d.out_dir else None,
            "email": list(d.email), "smtp": d.smtp, "webhook": list(d.webhook), "wait_seconds": wait_seconds,
        })
        for d in digests
    ]
    return jobs


def run_job(job: ScheduledJob) -> str:
    """Run `job` once, in this process, and say how it went in one line (a failure is reported, not raised)."""
    from pmon.flows.digest import digest
    from pmon.flows.monitor import monitor

    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        if job.kind == "monitor":
            params = job.parameters
            with warehouse_slot(params["db_path"], timeout_seconds=params["wait_seconds"]):
                summary = monitor(params["sources_path"], params["db_path"], group=job.name,
                                  wait_seconds=params["wait_seconds"])
            seconds = time.monotonic() - started
            errors = f" ({len(summary.errors)} errors: {summary.errors[0][:200]})" if summary.errors else ""
            return (f"{stamp} monitor {job.name}: {params['sources']} sources, {summary.documents_new} new documents, "
                    f"{summary.detections_new} detections, {summary.alerts_new} alerts, {seconds:.1f} s, "
                    f"{summary.status}{errors}")
        # Deliveries retry by themselves, and the next scheduled digest re-sends what failed: no flow retries
        # here, which would hold the loop (and a stop) for minutes.
        report = digest.with_options(retries=0)(**job.parameters)
        sent = sum(1 for d in report.get("deliveries", []) if d.get("status") == "sent")
        return f"{stamp} digest {job.name}: {sent} deliveries, {time.monotonic() - started:.1f} s, completed"
    except Exception as exc:  # noqa: BLE001 - one failed run never stops the service; the next one may succeed
        message = " ".join(str(exc).split())[:300]
        seconds = time.monotonic() - started
        return f"{stamp} {job.kind} {job.name}: {seconds:.1f} s, failed: {type(exc).__name__}: {message}"


class _StopRequest:
    """SIGTERM/SIGINT handler: the first asks to stop after the run in flight, a second one stops at once."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        # Only async-signal-safe output here (a print could be interrupted mid-line in the main thread).
        os.write(sys.stdout.fileno(), f"{signal.Signals(signum).name}: stopping after the run in flight "
                                      "(again to stop at once)\n".encode())


def serve_in_process(
    jobs: Sequence[ScheduledJob], db_path: str | Path | None = None, port: int = 4200, ui: bool = True,
    *, prefect_server: bool = True, say: Any = print,
) -> None:
    """Run `jobs` on their schedules in this process, one at a time, until SIGTERM or SIGINT.

    Every run happens here, in a worker thread, so the encoder is loaded once for the whole service; runs never
    overlap (one warehouse, one writer). A signal lets the run in flight finish and be recorded, then returns;
    a second signal stops at once. Each finished run prints one line (`run_job`).

    Args:
        jobs: from `scheduled_jobs`.
        db_path: the warehouse, whose global concurrency limit is created on the Prefect server.
        port: port of the local Prefect server started when PREFECT_API_URL is not set.
        ui: serve Prefect's UI from that local server.
        prefect_server: record runs on a Prefect server (PREFECT_API_URL, or a local one started here); False:
            Prefect's ephemeral mode.
        say: where the lines go.

    Raises:
        PrefectServerError: the local server could not be started.
    """
    stop = _StopRequest()
    # Installed explicitly, whatever this process inherited: started from a script, SIGINT may be ignored.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with prefect_api(port=port, ui=ui) if prefect_server else nullcontext(None) as api_url:
            if db_path is not None and api_url:
                ensure_warehouse_limit(db_path)
            now = datetime.now(UTC)
            due = {job: job.next_due(now) for job in jobs}
            where = f" (runs on {api_url})" if api_url else ""
            say(f"serving {len(jobs)} schedules in process {os.getpid()}{where}")
            for job in jobs:
                when = due[job]
                say(f"  {job.kind} {job.name}: {', '.join(job.schedules)}; next "
                    + (when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else "never"))
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmon-serve") as runner:
                while not stop.event.is_set():
                    pending = [(when, job.name, job) for job, when in due.items() if when is not None]
                    if not pending:
                        say("nothing is scheduled")
                        return
                    when, _, job = min(pending, key=lambda p: (p[0], p[1]))
                    if stop.event.wait(max(0.0, (when - datetime.now(UTC)).total_seconds())):
                        break
                    # In a worker thread: Prefect's flow engine swaps SIGTERM for its own handler (a run killed
                    # as "crashed") only when it runs in the main thread, which keeps ours here. The thread runs
                    # in a copy of this context: Prefect's settings (the API URL above) live in a context
                    # variable, and without them a run starts its own ephemeral API server, a child process
                    # that a SIGTERM to serve's process group kills under the run in flight.
                    line = runner.submit(contextvars.copy_context().run, run_job, job)
                    while True:
                        try:
                            say(line.result(timeout=0.5))
                            break
                        except FutureTimeout:
                            continue
                    # A run longer than its interval is followed at once by one more, not by all it missed.
                    due[job] = job.next_due(max(when, datetime.now(UTC) - _interval_of(job)))
        say("stopped")
    except KeyboardInterrupt:
        say("stopped at once (second signal); the run in flight is recorded as interrupted by the next run")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interval_of(job: ScheduledJob) -> timedelta:
    """The shortest interval among the job's schedules (zero when it has only crons)."""
    from pmon.schemas.sources import parse_interval

    seconds = [s for s in (parse_interval(text) for text in job.schedules) if s is not None]
    return timedelta(seconds=min(seconds, default=0))
