"""The HTTP path against real servers on 127.0.0.1: conditional GET, caps, redirects, address checks."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pmon.ingestion import BlockedAddress, FetchError, IngestLimits, SafeFetcher, check_address, read_source
from pmon.ingestion.local_server import serve_directory
from pmon.schemas.sources import SourceConfig


@pytest.fixture
def media(fixtures: Path) -> Iterator[str]:
    with serve_directory(fixtures / "ingestion") as base_url:
        yield base_url


def test_feed_over_http_then_not_modified(media: str) -> None:
    source = SourceConfig(id="rss", kind="feed", location=f"{media}/rss.xml", allow_private_network=True)
    with SafeFetcher() as fetcher:
        first = read_source(source, fetcher)
        assert len(first.items) == 2 and first.etag
        again = read_source(source, fetcher, etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.items == []


def test_html_source_pages_over_http(media: str) -> None:
    source = SourceConfig(id="pages", kind="html", location=f"{media}/article.html",
                          pages=[f"{media}/missing.html"], allow_private_network=True)
    with SafeFetcher() as fetcher:
        batch = read_source(source, fetcher)
    assert len(batch.items) == 1 and "wheat and medicine" in batch.items[0].text
    assert len(batch.problems) == 1 and "HTTP 404" in batch.problems[0].reason
    assert not batch.complete  # so the fetch state is not saved and the page is retried next run


def test_private_address_refused_without_traffic() -> None:
    # IP literals are judged before any connection is opened: no packet leaves for these addresses.
    for url in ("http://10.0.0.8/feed", "http://192.168.1.1/x", "http://169.254.169.254/latest", "http://[::1]/x",
                "http://127.0.0.1:9/x", "file:///etc/passwd", "ftp://example.invalid/x"):
        with pytest.raises(BlockedAddress):
            check_address(url)
    check_address("http://8.8.8.8/x")  # a public literal passes (and is not fetched here)
    check_address("http://127.0.0.1/x", allowed_hosts={"127.0.0.1"})


def test_loopback_source_refused_unless_allow_listed(media: str) -> None:
    source = SourceConfig(id="rss", kind="feed", location=f"{media}/rss.xml")
    with SafeFetcher() as fetcher:
        batch = read_source(source, fetcher)
    assert batch.items == [] and "non-public address" in batch.problems[0].reason


class _Hostile(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
        elif self.path == "/to-private":
            self.send_response(302)
            self.send_header("Location", "http://10.1.2.3/internal")
            self.end_headers()
        elif self.path == "/bomb":
            body = gzip.compress(b"<rss>" + b" " * 5_000_000 + b"</rss>")
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(500)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_redirect_loop_capped(hostile: str) -> None:
    with (
        SafeFetcher(IngestLimits(max_redirects=3)) as fetcher,
        pytest.raises(FetchError, match="more than 3 redirects"),
    ):
        fetcher.get(f"{hostile}/loop", allow_private=True)


def test_redirect_to_private_address_refused(hostile: str) -> None:
    limits = IngestLimits(allowed_private_hosts=["127.0.0.1"])
    with SafeFetcher(limits) as fetcher, pytest.raises(BlockedAddress, match="10.1.2.3"):
        fetcher.get(f"{hostile}/to-private")


def test_gzip_bomb_cut_at_the_cap(hostile: str) -> None:
    with (
        SafeFetcher(IngestLimits(max_response_bytes=1_000_000)) as fetcher,
        pytest.raises(FetchError, match="after decompression"),
    ):
        fetcher.get(f"{hostile}/bomb", allow_private=True)


def test_server_error_is_a_fetch_error(hostile: str) -> None:
    with SafeFetcher() as fetcher, pytest.raises(FetchError, match="HTTP 500"):
        fetcher.get(f"{hostile}/boom", allow_private=True)
