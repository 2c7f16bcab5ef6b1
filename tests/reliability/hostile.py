"""A hostile HTTP server on 127.0.0.1 for tests and the fuzz script: each path answers what a route says.

A route is a status, headers and a body (bytes), or a body served slowly (one piece at a time, with a pause),
so tests can serve gzip bombs, lying content types, redirect loops and slow drips without leaving the machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: > 0: send the body in pieces of this many bytes with `pause` seconds between them.
    drip: int = 0
    pause: float = 0.0
    #: False: no Content-Length header (the body ends when the connection closes).
    content_length: bool = True
    #: Answer the first this many requests with 503 (a flaky server), then as above.
    fail_first: int = 0


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return  # clients hang up on purpose here (caps, deadlines, timeouts)


class HostileServer:
    """Routes by path; `requests` records (path, Host header) of every request received."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append((self.path, self.headers.get("Host", "")))
                route = server.routes.get(self.path.split("?", 1)[0], Route(b"not found", 404))
                if route.fail_first > 0:
                    route.fail_first -= 1
                    route = Route(b"try again later", 503)
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                if route.content_length:
                    self.send_header("Content-Length", str(len(route.body)))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                try:
                    if route.drip:
                        for start in range(0, len(route.body), route.drip):
                            self.wfile.write(route.body[start : start + route.drip])
                            self.wfile.flush()
                            time.sleep(route.pause)
                    else:
                        self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (as it should, past a cap or a deadline)
                if not route.content_length:
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    def route(self, path: str, body: bytes | str = b"", **kwargs: object) -> str:
        """Add a route; returns its URL."""
        self.routes[path] = Route(body.encode("utf-8") if isinstance(body, str) else body, **kwargs)  # type: ignore[arg-type]
        return self.base_url + path

    def start(self) -> HostileServer:
        """Serve in a daemon thread."""
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="hostile-server",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def hostile_server() -> Iterator[HostileServer]:
    """A started HostileServer, stopped at the end."""
    server = HostileServer().start()
    try:
        yield server
    finally:
        server.stop()
