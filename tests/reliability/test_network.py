"""Network safety beyond tests/ingestion/test_http.py: names that resolve inward, addresses hidden in other
forms, DNS rebinding, redirects, timeouts, caps, and the environment's proxies.

No packet goes to a private address here: refusals are judged on names an injected resolver answers, on
literal addresses, or against httpx's MockTransport, which records whatever would have been sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pmon.ingestion import BlockedAddress, FetchError, IngestLimits, SafeFetcher, check_address, read_source
from pmon.ingestion.http import is_public
from pmon.schemas.sources import SourceConfig, SourceKind
from tests.reliability.hostile import HostileServer, hostile_server


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with hostile_server() as running:
        yield running


class Recorder:
    """A MockTransport handler that records every request that would have left the machine."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(b"<rss><channel><title>t</title></channel></rss>"))


def resolver_of(table: dict[str, list[str]]):  # noqa: ANN201 - a Resolver
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return table[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "172.16.0.9", "192.168.0.1", "127.0.0.53", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1",
     "fe80::1", "fd12::1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "224.0.0.251"],
)
def test_names_resolving_inward_refused_before_any_request(address: str) -> None:
    recorder = Recorder()
    resolve = resolver_of({"feeds.example": [address]})
    source = SourceConfig(id="s", kind="feed", location="https://feeds.example/rss.xml")
    with SafeFetcher(transport=httpx.MockTransport(recorder), resolver=resolve) as fetcher:
        batch = read_source(source, fetcher)
    assert batch.items == [] and "non-public address" in batch.problems[0].reason
    assert resolve.calls == ["feeds.example"] and recorder.sent == []


def test_one_inward_address_among_public_ones_is_enough_to_refuse() -> None:
    resolve = resolver_of({"cdn.example": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(BlockedAddress, match="10.0.0.7"):
        check_address("http://cdn.example/x", resolver=resolve)


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0", "[::ffff:127.0.0.1]", "localhost"]
)
def test_other_spellings_of_loopback_refused(host: str) -> None:
    # Numeric forms are parsed by getaddrinfo itself; localhost comes from /etc/hosts: no DNS query, no traffic.
    with pytest.raises(BlockedAddress):
        check_address(f"http://{host}/feed")


@settings(max_examples=200, deadline=None)
@given(st.ip_addresses(v=4))
def test_ipv4_judged_the_same_in_every_ipv6_disguise(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    if not is_public(address):
        assert not is_public(mapped) and not is_public(nat64)


def test_connection_pinned_to_the_checked_address() -> None:
    # A rebinding name answers a public address when checked and a private one afterwards: the fetch must go to
    # the address that was checked, with the original Host header, and never ask the resolver twice.
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    recorder = Recorder()
    with SafeFetcher(transport=httpx.MockTransport(recorder), resolver=rebinding) as fetcher:
        fetcher.get("https://rebind.example:8443/feed.xml?x=1")
    assert calls == ["rebind.example"]
    [request] = recorder.sent
    assert request.url.host == "93.184.216.34" and request.url.port == 8443 and request.url.query == b"x=1"
    assert request.headers["host"] == "rebind.example:8443"
    assert request.extensions["sni_hostname"] == "rebind.example"  # TLS still verifies the certificate of the name


def test_allow_listed_name_reaches_the_local_server_by_its_own_name(server: HostileServer) -> None:
    url = server.route("/feed.xml", b"<rss><channel><title>t</title><item><title>hello</title></item></channel></rss>")
    name_url = url.replace("127.0.0.1", "media.test")
    limits = IngestLimits(allowed_private_hosts=["media.test"])
    with SafeFetcher(limits, resolver=resolver_of({"media.test": ["127.0.0.1"]})) as fetcher:
        response = fetcher.get(name_url)
    assert response.status == 200 and server.requests == [("/feed.xml", f"media.test:{server.port}")]


def test_redirect_to_an_inward_name_refused_after_one_request(server: HostileServer) -> None:
    server.route("/go", status=302, headers={"Location": "http://internal.example/admin"})
    resolve = resolver_of({"media.test": ["127.0.0.1"], "internal.example": ["10.20.30.40"]})
    limits = IngestLimits(allowed_private_hosts=["media.test"])
    with SafeFetcher(limits, resolver=resolve) as fetcher, pytest.raises(BlockedAddress, match="10.20.30.40"):
        fetcher.get(f"http://media.test:{server.port}/go")
    assert [path for path, _ in server.requests] == ["/go"]


@pytest.mark.parametrize("target", ["file:///etc/passwd", "gopher://127.0.0.1:25/x", "ftp://files.example/x"])
def test_redirect_to_another_scheme_refused(server: HostileServer, target: str) -> None:
    url = server.route("/hop", status=301, headers={"Location": target})
    with SafeFetcher() as fetcher, pytest.raises(BlockedAddress, match="only http and https"):
        fetcher.get(url, allow_private=True)


def test_allow_listed_source_still_only_speaks_http(server: HostileServer) -> None:
    with pytest.raises(ValidationError, match="scheme 'file' is not supported"):  # the sources file refuses it (#14)
        SourceConfig(id="s", kind="feed", location="file:///etc/hostname", allow_private_network=True)
    # ... and a config built around that check still reads nothing.
    source = SourceConfig.model_construct(id="s", kind=SourceKind.feed, location="file:///etc/hostname",
                                          allow_private_network=True)
    with SafeFetcher() as fetcher:
        batch = read_source(source, fetcher)
    assert batch.items == [] and batch.problems  # a local path would need no URL scheme at all


def test_read_timeout(server: HostileServer) -> None:
    url = server.route("/stall", b"<rss/>" * 10, drip=2, pause=1.5)
    with SafeFetcher(IngestLimits(timeout_seconds=0.3)) as fetcher, pytest.raises(FetchError, match="timed out"):
        fetcher.get(url, allow_private=True)


def test_declared_size_over_the_cap_refused_unread(server: HostileServer) -> None:
    url = server.route("/big", b"x" * 200_000)
    with (
        SafeFetcher(IngestLimits(max_response_bytes=100_000)) as fetcher,
        pytest.raises(FetchError, match="200000 bytes"),
    ):
        fetcher.get(url, allow_private=True)


def test_undeclared_size_cut_at_the_cap(server: HostileServer) -> None:
    url = server.route("/stream", b"x" * 300_000, content_length=False)
    with SafeFetcher(IngestLimits(max_response_bytes=100_000)) as fetcher, pytest.raises(FetchError, match="byte cap"):
        fetcher.get(url, allow_private=True)


def test_environment_proxies_and_netrc_ignored(
    server: HostileServer, monkeypatch: pytest.MonkeyPatch, tmp_path  # noqa: ANN001
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login user password secret\n", encoding="utf-8")
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a closed port: used, it would fail the fetch
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    url = server.route("/ok", b"<rss/>")
    seen_auth: list[str | None] = []
    with SafeFetcher() as fetcher:
        assert fetcher.get(url, allow_private=True).status == 200
        seen_auth.append(fetcher.client.headers.get("authorization"))
    assert seen_auth == [None]


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("PMON_INGEST_TIMEOUT_SECONDS", "3.5", "timeout_seconds", 3.5),
        ("PMON_INGEST_MAX_REDIRECTS", "2", "max_redirects", 2),
        ("PMON_INGEST_MAX_RESPONSE_BYTES", "1000", "max_response_bytes", 1000),
        ("PMON_INGEST_MAX_ITEM_CHARS", "500", "max_item_chars", 500),
        ("PMON_INGEST_MAX_ITEMS_PER_SOURCE", "7", "max_items_per_source", 7),
        ("PMON_INGEST_MAX_SOURCE_SECONDS", "9", "max_source_seconds", 9.0),
        (
            "PMON_INGEST_ALLOWED_PRIVATE_HOSTS", '["127.0.0.1", "media.lan"]', "allowed_private_hosts",
            ["127.0.0.1", "media.lan"],
        ),
    ],
)
def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str,
                                     expected: object) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(IngestLimits(), field) == expected


def test_limits_refuse_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMON_INGEST_MAX_REDIRECTS", "500")
    with pytest.raises(ValueError, match="max_redirects"):
        IngestLimits()


def test_every_limit_is_documented_with_its_default() -> None:
    import json
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "operating.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| `PMON_INGEST_")}
    for name, field in IngestLimits.model_fields.items():
        row = rows.get(f"`PMON_INGEST_{name.upper()}`")
        assert row is not None, f"docs/operating.md does not list PMON_INGEST_{name.upper()}"
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        if isinstance(default, list):
            shown = json.dumps(default)
        else:
            shown = str(int(default) if float(default).is_integer() else default)
        assert f"`{shown}`" in row, f"{name}: default {shown} not in {row!r}"
