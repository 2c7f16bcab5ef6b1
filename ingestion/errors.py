"""Errors of ingestion. Each names the source, what failed and why; none of them stops a run.

    IngestError
    ├── FetchError          the bytes could not be had (HTTP status, timeout, size or time cap, bad redirect)
    │   ├── TransientFetchError  a timeout, a dropped connection, HTTP 429 or 5xx: worth trying again soon
    │   └── BlockedAddress  the URL points into the private network and is not allow-listed
    └── ParseError          the bytes are not a usable feed, page, export or file drop (or one item of it is not)
"""

from __future__ import annotations


class IngestError(Exception):
    """Base class: a source or an item could not be read."""


class FetchError(IngestError):
    """The HTTP fetch failed after its retries (status, timeout, size cap, bad redirect)."""


class TransientFetchError(FetchError):
    """A failure that may pass by itself: timeout, connection refused or reset, HTTP 429 or 5xx.

    Raised where the cause is known (the HTTP client's exception type, the status code), so that retries are
    decided by type (`pmon.pipeline.steps.fetch_sources`), never by reading messages.
    """


class BlockedAddress(FetchError):
    """The URL resolves to a loopback, private, link-local or reserved address and is not allow-listed."""


class ParseError(IngestError):
    """The bytes fetched are not a valid feed, page, export or file drop, or one item of it is unusable.

    Args:
        message: what is wrong and where (line, row, entry number).
        payload: the offending raw item, truncated, kept in quarantine for an analyst to inspect.
    """

    def __init__(self, message: str, payload: str | None = None) -> None:
        super().__init__(message)
        self.payload = payload[:2000] if payload else None

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, str | None]]:
        # Picklable with its payload: batches travel between Dask workers and the flow.
        return (type(self), (str(self), self.payload))
