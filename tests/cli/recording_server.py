"""Small real HTTP servers on 127.0.0.1 that record what reached them (fixtures: conftest).

``origin`` serves a fixed HTML page; ``proxy`` is a forward proxy that answers
itself (it never connects anywhere) with the absolute URL it was asked for, so a
test can tell a proxied request from a direct one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Shelf</title></head>"
    "<body><h1>  Books on the shelf </h1>"
    "<a href='/b/1'>one</a> <a href='/b/2'>two</a></body></html>"
)


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    target: str  # the request-target: a path, or an absolute URL when sent to a proxy
    headers: dict[str, str] = field(default_factory=dict)


class RecordingServer:
    """A threaded HTTP server on a free loopback port; ``seen`` lists its requests."""

    def __init__(self, *, proxy: bool, delay: float = 0.0) -> None:
        self.seen: list[Seen] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
                time.sleep(delay)  # a slow site: each answer takes this long
                if self.path.endswith("/robots.txt"):
                    self._answer(404, b"", "text/plain")
                elif proxy:
                    body = f"<html><body><h1>via proxy</h1><p>{self.path}</p></body></html>"
                    self._answer(200, body.encode(), "text/html; charset=utf-8")
                else:
                    self._answer(200, PAGE.encode(), "text/html; charset=utf-8")

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test reads ``seen``

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def pages(self) -> list[Seen]:
        """The requests other than robots.txt."""
        return [s for s in self.seen if not s.target.endswith("/robots.txt")]
