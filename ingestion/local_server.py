"""A static file server on 127.0.0.1 with ETag / Last-Modified / 304, for the demo, tests and benchmarks.

It serves the bundled synthetic media the way a real site would, so the monitor flow exercises its real HTTP path
(conditional GET included) without leaving the machine.
"""

from __future__ import annotations

import email.utils
import hashlib
import mimetypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

mimetypes.add_type("application/rss+xml", ".xml")
mimetypes.add_type("application/json", ".json")
mimetypes.add_type("application/x-ndjson", ".jsonl")


class _Handler(SimpleHTTPRequestHandler):
    """GET/HEAD of files under the served directory, with strong ETags; quiet logs."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = Path(self.translate_path(unquote(urlsplit(self.path).path)))
        if not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        modified = email.utils.formatdate(int(path.stat().st_mtime), usegmt=True)
        if self.headers.get("If-None-Match") == etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith(("xml", "json", "ndjson")):
            content_type += "; charset=utf-8"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", modified)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        return


@contextmanager
def serve_directory(directory: str | Path, port: int = 0) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (port 0: any free port) in a thread; yields the base URL.

    Example:
        >>> with serve_directory(".") as base_url:  # doctest: +SKIP
        ...     httpx.get(base_url + "/README.md")
    """
    handler = partial(_Handler, directory=str(directory))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="pmon-media-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
