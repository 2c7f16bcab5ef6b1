"""A source trusted with the private network (`allow_private_network: true`) trusts its own host, not wherever
its redirects point: a hop to cloud metadata, to 10.0.0.1 or to another private host is refused before any
connection is opened (#14). "No connection" is proven on a real fetch in a separate process, twice over: the
kernel's view (strace of every connect()) and Python's (the `socket.connect` audit event, raised by CPython for
every socket connect whatever library opens it). Careful: before the fix, such a fetch reached whatever answers
169.254.169.254 on the machine running the tests; the child's audit hook now stops any non-loopback connect.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.hostile import HostileServer, hostile_server

#: Run in the child: one fetch of the URL, every connect() attempt written to stdout, then the outcome. The hook
#: also stops any attempt at an address other than 127.0.0.1 before the system call, so that code which regresses
#: fails this test (the attempt is recorded) without a packet leaving for a real private address.
FETCH_SCRIPT = r"""
import json, sys
connects = []
def guard(event, args):
    if event == "socket.connect":
        connects.append(list(args[1])[:2])
        if args[1][0] != "127.0.0.1":
            raise ConnectionRefusedError("test guard: only 127.0.0.1 may be dialled")
sys.addaudithook(guard)
from pmon.ingestion import BlockedAddress, FetchError, IngestLimits, SafeFetcher
outcome = "fetched"
with SafeFetcher(IngestLimits(timeout_seconds=1, max_source_seconds=3)) as fetcher:
    try:
        fetcher.get(sys.argv[1], allow_private=True)
    except BlockedAddress as exc:
        outcome = "blocked: " + str(exc)
    except FetchError as exc:
        outcome = "failed: " + str(exc)
print(json.dumps({"connects": connects, "outcome": outcome}))
"""

STRACE = shutil.which("strace")


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with hostile_server() as running:
        yield running


def _fetch_in_child(url: str, trace_file: Path | None) -> dict[str, object]:
    command = [sys.executable, "-c", FETCH_SCRIPT, url]
    if trace_file is not None:
        command = [STRACE, "-f", "-qq", "-e", "trace=connect", "-e", "signal=none", "-o", str(trace_file), *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("target", "address"),
    [("http://169.254.169.254/latest/meta-data/", "169.254.169.254"), ("http://10.0.0.1/admin", "10.0.0.1"),
     ("http://[::ffff:10.0.0.1]:8080/", "10.0.0.1")],
)
def test_redirect_to_a_private_address_refused_with_no_connect(
    server: HostileServer, tmp_path: Path, target: str, address: str
) -> None:
    url = server.route("/hop", status=302, headers={"Location": target})
    trace = tmp_path / "connect.trace" if STRACE else None
    result = _fetch_in_child(url, trace)

    outcome = str(result["outcome"])
    assert outcome.startswith("blocked: redirect from " + url), outcome
    assert address in outcome and "non-public address" in outcome
    # Python's view: the only socket ever connected is the one to the source itself.
    assert result["connects"] == [["127.0.0.1", server.port]], result["connects"]
    if trace is None:
        pytest.skip("strace is not installed: the kernel-level check did not run (the audit-hook check above did)")
    # The kernel's view: no connect() system call to the private address (and the one to the source was seen).
    dialled = [line for line in trace.read_text(encoding="utf-8").splitlines() if "connect(" in line]
    assert not [line for line in dialled if address in line], dialled
    assert any(f"htons({server.port})" in line and "127.0.0.1" in line for line in dialled), dialled


def test_redirect_to_another_private_host_refused(server: HostileServer) -> None:
    # "localhost" is 127.0.0.1 too, but it is not the source's host: the allow-list does not grow with a redirect.
    server.route("/feed", b"<rss/>")
    url = server.route("/hop", status=301, headers={"Location": f"http://localhost:{server.port}/feed"})
    result = _fetch_in_child(url, None)
    assert str(result["outcome"]).startswith("blocked: redirect from"), result
    assert [path for path, _ in server.requests] == ["/hop"]


def test_redirect_within_the_sources_own_host_followed(server: HostileServer) -> None:
    server.route("/feed", b"<rss/>")
    url = server.route("/hop", status=302, headers={"Location": "/feed"})
    result = _fetch_in_child(url, None)
    assert result["outcome"] == "fetched" and [path for path, _ in server.requests] == ["/hop", "/feed"]


def test_configured_private_hosts_stay_allowed_for_redirects(server: HostileServer) -> None:
    from pmon.ingestion import IngestLimits, SafeFetcher

    server.route("/feed", b"<rss/>")
    url = server.route("/hop", status=302, headers={"Location": f"http://localhost:{server.port}/feed"})
    with SafeFetcher(IngestLimits(allowed_private_hosts=["LocalHost"])) as fetcher:
        assert fetcher.get(url, allow_private=True).status == 200
    assert [path for path, _ in server.requests] == ["/hop", "/feed"]
