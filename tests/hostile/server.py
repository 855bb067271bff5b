"""A hostile web server on 127.0.0.1: each attack of issue 12 is a route.

Two host names reach it, as in ``tests/crawl/site.py``: ``127.0.0.1`` (the site
under crawl) and ``localhost`` (another host, for off-scope redirects and
sitemaps). Every request is logged with its Host header and path, so tests can
check what was fetched and how often.

Pages are registered per test (``server.page(path, body, ...)``); the attacks
that need code are routes of their own:

- ``/bomb/{gzip|deflate}/{mib}``: a body of ``mib`` MiB of zeros, compressed,
  sent with Content-Encoding and a Content-Length of the compressed size
  (``?type=image/jpeg``: served as an image, starting with JPEG's magic bytes);
- ``/redirect/{n}``: ``n`` more redirects, then a page;
- ``/to?location=...``: one redirect to any Location (``file:``, ``data:`` …);
- ``/stall``: headers, a few bytes, then silence longer than any test's read timeout;
- ``/nested/{levels}``: ``levels`` nested ``<div>`` elements (``?open``: never closed).
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from dataclasses import dataclass, field
from urllib.parse import unquote

from aiohttp import web

MIB = 1024 * 1024


#: The first bytes of a JPEG file (SOI, APP0 "JFIF"): a bomb that sniffs as an image.
JPEG_MAGIC = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


@functools.cache
def compressed_zeros(encoding: str, mib: int, head: bytes = b"") -> bytes:
    """``head`` then ``mib`` MiB of zero bytes as a gzip or zlib (HTTP "deflate") stream."""
    wbits = 31 if encoding == "gzip" else 15
    compressor = zlib.compressobj(9, wbits=wbits)
    zeros = bytes(MIB)
    return (compressor.compress(head) + b"".join(compressor.compress(zeros) for _ in range(mib))
            + compressor.flush())


@functools.cache
def nested_divs(levels: int, closed: bool = True) -> bytes:
    """An HTML page of ``levels`` nested ``<div>`` (100,000 levels: 1.1 MB; a million
    never closed: 5 MB)."""
    return (b"<html><head><title>deep</title></head><body>" + b"<div>" * levels
            + b"x" + (b"</div>" * levels if closed else b"") + b"</body></html>")


@dataclass(slots=True)
class Page:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class HostileServer:
    """The server; ``async with HostileServer() as server: server.url("/x")``."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.hits: list[tuple[str, str]] = []  # (host name, path with query, %-decoded)
        self.authorization: list[tuple[str, str | None]] = []  # (host name, header)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def page(self, path: str, body: bytes | str, **fields: object) -> None:
        """Serve ``body`` at ``path`` (fields: status, content_type, headers)."""
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = Page(data, **fields)  # type: ignore[arg-type]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def fetched(self, path: str, host: str | None = None) -> int:
        """How many times ``path`` was requested (on ``host``, or on any host)."""
        path = unquote(path)  # the crawler may re-encode a query; compare decoded forms
        return sum(1 for h, p in self.hits if p == path and (host is None or h == host))

    async def __aenter__(self) -> HostileServer:
        app = web.Application(middlewares=[self._log])
        app.router.add_get("/bomb/{encoding}/{mib}", self._bomb)
        app.router.add_get("/redirect/{n}", self._redirect)
        app.router.add_get("/to", self._to)
        app.router.add_get("/stall", self._stall)
        app.router.add_get("/nested/{levels}", self._nested)
        app.router.add_route("*", "/{tail:.*}", self._static)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _log(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        self.hits.append((request.host.rsplit(":", 1)[0], unquote(request.path_qs)))
        self.authorization.append((request.host.rsplit(":", 1)[0],
                                   request.headers.get("Authorization")))
        return await handler(request)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        page = self.pages.get(request.path_qs) or self.pages.get(request.path)
        if page is None:
            return web.Response(status=404, text="not found")
        return web.Response(status=page.status, body=page.body, headers={
            "Content-Type": page.content_type, **page.headers})

    async def _bomb(self, request: web.Request) -> web.StreamResponse:
        encoding = request.match_info["encoding"]
        head = JPEG_MAGIC if "jpeg" in request.query.get("type", "") else b""
        body = compressed_zeros(encoding, int(request.match_info["mib"]), head)
        return web.Response(body=body, headers={
            "Content-Type": request.query.get("type", "text/html"),
            "Content-Encoding": encoding})

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        left = int(request.match_info["n"])
        if left == 0:
            return web.Response(text="<html><title>arrived</title></html>",
                                content_type="text/html")
        raise web.HTTPFound(f"/redirect/{left - 1}")

    async def _to(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": request.query["location"]})

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.content_length = 100
        await response.prepare(request)
        await response.write(b"<html>")
        await asyncio.sleep(30)  # the client's read timeout fires long before
        return response

    async def _nested(self, request: web.Request) -> web.StreamResponse:
        body = nested_divs(int(request.match_info["levels"]), "open" not in request.query)
        return web.Response(body=body, content_type="text/html")
