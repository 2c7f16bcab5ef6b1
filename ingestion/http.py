"""HTTP fetching that a hostile source cannot turn against us.

- every hop of a redirect chain is checked: scheme http(s), host resolving to a public address unless allow-listed;
- redirects are capped, each request has timeouts, the body is read as a stream and cut at a size cap counted
  after decompression (so a small gzip bomb cannot expand without bound);
- conditional GET: ETag / Last-Modified from the last complete fetch; a 304 returns no body.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from ingestion.errors import BlockedAddress, FetchError
from ingestion.limits import IngestLimits

USER_AGENT = "pmon/0.1 (+research monitoring; contact: see README)"


@dataclass
class FetchedResponse:
    """A completed fetch."""

    url: str
    status: int
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304 to our conditional GET."""
        return self.status == 304


def check_address(url: str, allowed_hosts: set[str] | frozenset[str] = frozenset(), resolve: bool = True) -> None:
    """Refuse URLs that are not http(s) or whose host resolves to a non-public address.

    Raises:
        BlockedAddress: with the host, the address and why.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise BlockedAddress(f"{url}: only http and https are fetched, not {parts.scheme or 'no scheme'!r}")
    host = parts.hostname
    if not host:
        raise BlockedAddress(f"{url}: no host")
    if host in allowed_hosts:
        return
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise FetchError(f"{url}: cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise BlockedAddress(
                f"{url}: {host} resolves to {address}, a non-public address; add the host to the source's "
                "allow-list (allow_private_network: true) only if you trust it"
            )


class SafeFetcher:
    """One httpx client with the limits applied; reuse it for a run."""

    def __init__(self, limits: IngestLimits | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.limits = limits or IngestLimits()
        self.client = httpx.Client(
            timeout=httpx.Timeout(self.limits.timeout_seconds),
            follow_redirects=False,  # we follow by hand so that every hop is checked
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, allow_private: bool = False
    ) -> FetchedResponse:
        """GET with every safety limit; raises FetchError (or BlockedAddress) with a clear reason."""
        allowed = set(self.limits.allowed_private_hosts)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _hop in range(self.limits.max_redirects + 1):
            if not allow_private:
                check_address(current, allowed)
            try:
                with self.client.stream("GET", current, headers=headers) as response:
                    if response.status_code == 304:
                        return FetchedResponse(current, 304, b"", "", etag, last_modified)
                    if response.status_code in (301, 302, 303, 307, 308):
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError(f"{current}: redirect without a Location header")
                        current = urljoin(current, location)
                        continue
                    if response.status_code >= 400:
                        raise FetchError(f"{current}: HTTP {response.status_code}")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > self.limits.max_response_bytes:
                        raise FetchError(
                            f"{current}: response of {declared} bytes is over the {self.limits.max_response_bytes} byte cap"
                        )
                    body = bytearray()
                    for chunk in response.iter_bytes():  # decompressed: the cap counts what it expands to
                        body.extend(chunk)
                        if len(body) > self.limits.max_response_bytes:
                            raise FetchError(
                                f"{current}: response is over the {self.limits.max_response_bytes} byte cap "
                                "(after decompression)"
                            )
                    return FetchedResponse(
                        url=current,
                        status=response.status_code,
                        content=bytes(body),
                        content_type=response.headers.get("content-type", ""),
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                    )
            except httpx.TimeoutException as exc:
                raise FetchError(f"{current}: timed out after {self.limits.timeout_seconds}s ({type(exc).__name__})") from exc
            except httpx.DecodingError as exc:
                raise FetchError(f"{current}: broken compressed body: {exc}") from exc
            except httpx.TransportError as exc:
                raise FetchError(f"{current}: {type(exc).__name__}: {exc}") from exc
        raise FetchError(f"{url}: more than {self.limits.max_redirects} redirects")
