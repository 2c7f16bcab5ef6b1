"""HTTP fetching that a hostile source cannot turn against us or against the network we run in.

- every hop of a redirect chain is checked: scheme http(s), host resolving to public addresses only unless
  allow-listed (the allow-list is PMON_INGEST_ALLOWED_PRIVATE_HOSTS plus, for a source with
  `allow_private_network`, that source's own host: a redirect never adds to it); the connection then goes to the
  very address that was checked (no second DNS lookup that a rebinding name could answer differently), with the
  Host header and TLS server name of the original host;
- IPv4 addresses hidden in IPv6 ones (mapped, 6to4, NAT64) are judged by the IPv4 address they carry;
- redirects are capped, each request has timeouts, and the whole fetch a time budget (a server that drips one
  byte at a time cannot hold a run); the body is read as a stream and decompressed here, gzip and deflate only,
  in bounded steps, so the size cap counts what it expands to and a small gzip bomb never expands in memory;
- no proxy or .netrc from the environment: what leaves the machine is what this module decides;
- conditional GET: ETag / Last-Modified from the last complete fetch; a 304 returns no body.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from pmon.ingestion.errors import BlockedAddress, FetchError, TransientFetchError
from pmon.ingestion.limits import IngestLimits

USER_AGENT = "pmon/0.1 (+research monitoring; contact: see README)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: host, port → the addresses it resolves to (strings). Injectable so tests judge names without DNS or traffic.
Resolver = Callable[[str, int], Sequence[str]]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context (certifi's roots) for every client of the process.

    What httpx builds for `verify=True` without the environment (`trust_env=False`), built once: each build
    loads the CA bundle (15-40 ms of CPU), and a context is safe to share between clients and threads.
    """
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            import certifi

            _ssl_context = ssl.create_default_context(cafile=certifi.where())
        return _ssl_context


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


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), TCP addresses only."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {exc}") from exc
    return [str(info[4][0]) for info in infos]


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address, judging IPv4 addresses embedded in IPv6 ones too."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
        if address.scope_id:
            return False
    return address.is_global and not address.is_multicast


def check_address(
    url: str,
    allowed_hosts: set[str] | frozenset[str] = frozenset(),
    resolve: bool = True,
    resolver: Resolver | None = None,
) -> list[IPAddress]:
    """Refuse URLs that are not http(s) or whose host resolves to a non-public address.

    Args:
        url: the URL about to be fetched (each redirect hop is checked again).
        allowed_hosts: host names or literal addresses let through even when they are not public.
        resolve: look names up (False: only literal addresses are judged; names pass unresolved).
        resolver: how names are looked up (default: the system resolver).

    Returns:
        The addresses the host resolves to, all checked: connect to one of these and to nothing else.

    Raises:
        BlockedAddress: with the host, the address and why.
        FetchError: the name does not resolve.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise BlockedAddress(f"{url}: only http and https are fetched, not {parts.scheme or 'no scheme'!r}")
    try:
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise BlockedAddress(f"{url}: not a valid address ({exc})") from exc
    if not host:
        raise BlockedAddress(f"{url}: no host")
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return []
        try:
            found = (resolver or system_resolver)(host, port)
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        except FetchError as exc:
            raise FetchError(f"{url}: {exc}") from exc
        except ValueError as exc:
            raise FetchError(f"{url}: {host} resolved to something that is not an address: {exc}") from exc
        if not addresses:
            raise FetchError(f"{url}: {host} resolves to no address") from None  # the ValueError: not a literal
    if host in allowed_hosts:
        return addresses
    for address in addresses:
        if not is_public(address):
            raise BlockedAddress(
                f"{url}: {host} resolves to {address}, a non-public address; only a source's own host "
                "(allow_private_network: true) or a host in PMON_INGEST_ALLOWED_PRIVATE_HOSTS may be, and only if "
                "you trust it"
            )
    return addresses


def _pinned_url(url: str, address: IPAddress) -> str:
    """The URL with its host replaced by the checked address (the port, path and query kept)."""
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + literal + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class _BoundedDecoder:
    """Content-Encoding decoding in steps that never produce more than the bytes still allowed."""

    def __init__(self, encoding: str, location: str) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
        if len(codings) > 1:
            raise FetchError(f"{location}: stacked content encodings {codings} are refused (a compression bomb shape)")
        self.coding = codings[0] if codings else None
        if self.coding not in (None, "gzip", "x-gzip", "deflate"):
            raise FetchError(f"{location}: content encoding {self.coding!r} was not asked for and is not decoded")
        self.location = location
        self._zlib = self._new() if self.coding is not None else None
        self._first = True
        self._fed = False

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(31 if self.coding in ("gzip", "x-gzip") else zlib.MAX_WBITS)

    def feed(self, data: bytes, budget: int) -> Iterable[bytes]:
        """Decoded bytes of `data`, each step at most `budget` + 1 bytes (one over the cap is enough to know)."""
        if self._zlib is None:
            yield data
            return
        self._fed = self._fed or bool(data)
        decompressor = self._zlib
        try:
            while data:
                out = decompressor.decompress(data, budget + 1)
                if out:
                    yield out
                    budget -= len(out)
                    if budget < 0:
                        return
                data = decompressor.unconsumed_tail
                if decompressor.eof and decompressor.unused_data:
                    data = decompressor.unused_data  # a second gzip member
                    decompressor = self._zlib = self._new()
                self._first = False
        except zlib.error as exc:
            if self._first and self.coding == "deflate":
                # Some servers send raw deflate without the zlib header.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._first = False
                yield from self.feed(data, budget)
                return
            raise FetchError(f"{self.location}: broken compressed body: {exc}") from exc

    def finish(self) -> None:
        """Check that a compressed body ended where its stream says it ends.

        Raises:
            FetchError: the compressed stream was cut short (a truncated or forged body).
        """
        if self._zlib is not None and self._fed and not self._zlib.eof:
            raise FetchError(f"{self.location}: broken compressed body: the {self.coding} stream is truncated")


class SafeFetcher:
    """HTTP clients with the limits applied; reuse one for a run (it is safe to share between threads).

    Pickling gives a fresh fetcher with the same limits, resolver and transport and no open client (for task
    runners that send arguments to other processes); `detached` is then True, and whoever uses the copy closes it.

    Args:
        limits: timeouts, caps and the allow-list (default: from PMON_INGEST_* environment variables).
        transport: an httpx transport (tests).
        resolver: how host names are looked up (default: the system resolver). Every connection goes to an
            address this resolver returned and the checks passed.

    Example:
        >>> with SafeFetcher(IngestLimits(max_response_bytes=5_000_000)) as fetcher:  # doctest: +SKIP
        ...     fetcher.get("https://news.example/rss.xml").content
    """

    def __init__(
        self,
        limits: IngestLimits | None = None,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.limits = limits or IngestLimits()
        self.resolver = resolver or system_resolver
        self._transport = transport
        #: True for a copy made by unpickling (see the class docstring).
        self.detached = False
        # One client per host name: connections are pooled by the pinned address, and a connection opened
        # with one host's TLS name must not carry another host's requests.
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        return {"limits": self.limits, "resolver": self.resolver, "transport": self._transport}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["limits"], state["transport"], state["resolver"])  # type: ignore[misc]  # mypy forbids calling __init__ on an instance; unpickling must
        self.detached = True

    def _client(self, host: str) -> httpx.Client:
        client = self._clients.get(host)
        if client is not None:
            return client
        with self._lock:  # threads of one run share the fetcher: build each host's client once
            client = self._clients.get(host)
            if client is None:
                client = httpx.Client(
                    timeout=httpx.Timeout(self.limits.timeout_seconds),
                    follow_redirects=False,  # we follow by hand so that every hop is checked
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
                    transport=self._transport,
                    verify=shared_ssl_context(),  # built once per process, not once per client
                    trust_env=False,  # no proxy or .netrc credentials picked up from the environment
                )
                self._clients[host] = client
            return client

    @property
    def client(self) -> httpx.Client:
        """A client with the fetcher's settings (for callers that need plain httpx; no address checks)."""
        return self._client("")

    def close(self) -> None:
        """Close the connection pools."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> SafeFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        allow_private: bool = False,
        deadline: float | None = None,
    ) -> FetchedResponse:
        """GET with every safety limit.

        Args:
            url: http(s) URL.
            etag: ETag of the last complete fetch (conditional GET).
            last_modified: Last-Modified of the last complete fetch.
            allow_private: the URL's own host may resolve to non-public addresses (the demo's 127.0.0.1 server);
                redirect hops to other hosts still may not.
            deadline: `time.monotonic()` by which the whole fetch, body included, must be done (default: now +
                `limits.max_source_seconds`).

        Raises:
            FetchError: status, timeout, time budget, size cap, bad redirect, broken compression.
            BlockedAddress: the URL or a redirect hop points at a non-public address.
        """
        deadline = deadline or (time.monotonic() + self.limits.max_source_seconds)
        # The allow-list is fixed before the first request: the configured hosts, plus the source's own host when
        # the source is trusted with the private network. A redirect never widens it: a hop to another private
        # host (cloud metadata at 169.254.169.254, the 10/8 network) is refused before any connection is opened.
        # Spelled as urlsplit gives a hop's host (lower case, IPv6 without brackets), so that "[::1]" or "Media.LAN"
        # in the environment match.
        allowed = frozenset(host.strip().strip("[]").lower() for host in self.limits.allowed_private_hosts)
        if allow_private:
            allowed |= {urlsplit(url).hostname or ""}
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current, previous = url, None
        for _hop in range(self.limits.max_redirects + 1):
            parts = urlsplit(current)
            host = parts.hostname or ""
            try:
                addresses = check_address(current, allowed, resolver=self.resolver)
            except BlockedAddress as exc:
                if previous is None:
                    raise
                raise BlockedAddress(f"redirect from {previous} refused, nothing was sent there: {exc}") from exc
            extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
            hop_headers = {**headers, "Host": parts.netloc.rpartition("@")[2]}
            try:
                with self._client(host).stream(
                    "GET", _pinned_url(current, addresses[0]), headers=hop_headers, extensions=extensions
                ) as response:
                    if response.status_code == 304:
                        return FetchedResponse(current, 304, b"", "", etag, last_modified)
                    if response.status_code in (301, 302, 303, 307, 308):
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError(f"{current}: redirect without a Location header")
                        previous, current = current, urljoin(current, location)
                        continue
                    if response.status_code == 429 or response.status_code >= 500:
                        raise TransientFetchError(f"{current}: HTTP {response.status_code}")
                    if response.status_code >= 400:
                        raise FetchError(f"{current}: HTTP {response.status_code}")
                    return FetchedResponse(
                        url=current,
                        status=response.status_code,
                        content=self._read_body(response, current, deadline),
                        content_type=response.headers.get("content-type", ""),
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                    )
            except httpx.TimeoutException as exc:
                raise TransientFetchError(
                    f"{current}: timed out after {self.limits.timeout_seconds}s ({type(exc).__name__})"
                ) from exc
            except httpx.TransportError as exc:
                raise TransientFetchError(f"{current}: {type(exc).__name__}: {exc}") from exc
        raise FetchError(f"{url}: more than {self.limits.max_redirects} redirects")

    def _read_body(self, response: httpx.Response, location: str, deadline: float) -> bytes:
        cap = self.limits.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"{location}: response of {declared} bytes is over the {cap} byte cap")
        decoder = _BoundedDecoder(response.headers.get("content-encoding", ""), location)
        body = bytearray()
        for chunk in response.iter_raw():
            if time.monotonic() > deadline:
                raise FetchError(
                    f"{location}: over the time budget of {self.limits.max_source_seconds}s (a server sending slowly?)"
                )
            for piece in decoder.feed(chunk, cap - len(body)):
                body.extend(piece)
                if len(body) > cap:
                    raise FetchError(f"{location}: response is over the {cap} byte cap (after decompression)")
        decoder.finish()
        return bytes(body)
