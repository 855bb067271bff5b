"""A local image server for poster and gallery tests (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from ._images import poster_png

#: Why the browser test did not run, if it did not: printed as a banner at the end.
SKIPPED_BROWSER_TESTS: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for message in SKIPPED_BROWSER_TESTS:
        terminalreporter.write_sep("!", message, red=True, bold=True)


@dataclass
class ImageServer:
    base: str
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _build_app(server: ImageServer) -> web.Application:
    flaky_left = {"n": 1}

    async def count(request: web.Request) -> None:
        server.hits[request.path] = server.hits.get(request.path, 0) + 1

    async def poster(request: web.Request) -> web.StreamResponse:
        await count(request)
        index = int(request.match_info["index"])
        return web.Response(body=poster_png(index), content_type="image/png")

    async def jpeg_named(request: web.Request) -> web.StreamResponse:
        await count(request)
        return web.Response(body=poster_png(7), content_type="image/jpeg")

    async def html(request: web.Request) -> web.StreamResponse:
        await count(request)
        return web.Response(text="<html>not an image</html>", content_type="text/html")

    async def svg(request: web.Request) -> web.StreamResponse:
        await count(request)
        return web.Response(text="<svg xmlns='http://www.w3.org/2000/svg'/>",
                            content_type="image/svg+xml")

    async def huge(request: web.Request) -> web.StreamResponse:
        # Streamed without Content-Length, so only the running count can catch it.
        await count(request)
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b"\x89PNG\r\n\x1a\n")  # an image, as far as its first bytes go
        for _ in range(64):
            await resp.write(b"\0" * 16384)
        await resp.write_eof()
        return resp

    async def huge_declared(request: web.Request) -> web.StreamResponse:
        await count(request)
        return web.Response(body=b"\0" * 300_000, content_type="image/png")

    async def missing(request: web.Request) -> web.StreamResponse:
        await count(request)
        raise web.HTTPNotFound()

    async def flaky(request: web.Request) -> web.StreamResponse:
        await count(request)
        if flaky_left["n"] > 0:
            flaky_left["n"] -= 1
            raise web.HTTPServiceUnavailable()
        return web.Response(body=poster_png(3), content_type="image/png")

    async def slow(request: web.Request) -> web.StreamResponse:
        await count(request)
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(poster_png(1)[:100])
        await asyncio.sleep(30)
        return resp

    app = web.Application()
    app.router.add_get("/poster/{index:[0-9]+}.png", poster)
    app.router.add_get("/photo.jpg", jpeg_named)
    app.router.add_get("/page.html", html)
    app.router.add_get("/vector.svg", svg)
    app.router.add_get("/huge.png", huge)
    app.router.add_get("/declared-huge.png", huge_declared)
    app.router.add_get("/missing.png", missing)
    app.router.add_get("/flaky.png", flaky)
    app.router.add_get("/slow.png", slow)
    return app


@pytest.fixture
async def image_server() -> AsyncIterator[ImageServer]:
    server = ImageServer(base="")
    runner = web.AppRunner(_build_app(server), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
