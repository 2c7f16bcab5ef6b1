"""Errors of ingestion. Each names the source, what failed and why; none of them stops a run."""


class IngestError(Exception):
    """Base class: a source or an item could not be read."""


class FetchError(IngestError):
    """The HTTP fetch failed after its retries (status, timeout, size cap, bad redirect)."""


class BlockedAddress(FetchError):
    """The URL resolves to a loopback, private, link-local or reserved address and is not allow-listed."""


class ParseError(IngestError):
    """The bytes fetched are not a valid feed, page, export or file drop."""
