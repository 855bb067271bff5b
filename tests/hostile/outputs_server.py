"""A hostile server on 127.0.0.1 for the side outputs (--warc, --save-pages, --posters).

It speaks raw HTTP/1.1 over asyncio streams, not aiohttp.web, because some
attacks are bytes aiohttp would never send: a header that is not UTF-8. Each
route is a raw request target (``/a%2Fb`` and ``/a/b`` are two routes) mapped
to a ``Page``; anything else is a 404. One request per connection, every read
bounded in size and time.

The server runs its own loop in a thread, so both async tests and the CLI
(which runs ``asyncio.run`` itself) can use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

_MAX_REQUEST_HEAD = 64 * 1024
_READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class Page:
    """One response: status line, header lines (as bytes) and body."""

    body: bytes
    status: bytes = b"200 OK"
    headers: tuple[tuple[bytes, bytes], ...] = ((b"Content-Type", b"text/html"),)


def html(*links: str, text: str = "") -> Page:
    """An HTML page with ``links`` (raw hrefs) and some text."""
    anchors = "".join(f'<a href="{href}">{href}</a>\n' for href in links)
    return Page(f"<html><title>{text}</title><body>{text}\n{anchors}</body></html>".encode())


@dataclass
class OutputsServer:
    """Serves ``pages`` (raw target → Page) until stopped; counts hits per target."""

    pages: Mapping[str, Page]
    hits: dict[str, int] = field(default_factory=dict)
    port: int = 0

    def url(self, target: str) -> str:
        return f"http://127.0.0.1:{self.port}{target}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > _MAX_REQUEST_HEAD:
                return
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            self.hits[target] = self.hits.get(target, 0) + 1
            page = self.pages.get(target) or Page(b"not found", b"404 Not Found")
            lines = [b"HTTP/1.1 " + page.status]
            lines += [name + b": " + value for name, value in page.headers]
            lines += [b"Content-Length: " + str(len(page.body)).encode(), b"Connection: close"]
            writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + page.body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, IndexError):
            pass  # a client that went away or sent garbage: nothing to answer
        finally:
            writer.close()


@contextmanager
def serving(pages: Mapping[str, Page]) -> Iterator[OutputsServer]:
    """Run an ``OutputsServer`` for ``pages`` on its own loop in a thread."""
    server = OutputsServer(pages)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> asyncio.Server:
        srv = await asyncio.start_server(server._handle, "127.0.0.1", 0,
                                         limit=_MAX_REQUEST_HEAD)
        server.port = srv.sockets[0].getsockname()[1]
        return srv

    srv = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield server
    finally:
        async def stop() -> None:
            srv.close()
            await srv.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


# -- the attacks, one builder per row of issue 12 ---------------------------------

BAD_HEADER = b"caf\xe9\xff"  # Latin-1 é and a byte that is never UTF-8


def bad_header_site() -> dict[str, Page]:
    """F3: a 404 page and a 200 page whose headers hold bytes that are not UTF-8."""
    bad = ((b"Content-Type", b"text/html"), (b"X-Hostile", BAD_HEADER))
    return {
        "/": html("/bad-404", "/bad-200", "/ok", text="start"),
        "/bad-404": Page(b"<html>gone</html>", b"404 Not \xe9Found", bad),
        "/bad-200": Page(b"<html>fine body</html>", b"200 OK", bad),
        "/ok": html(text="ok"),
    }


#: F8: URLs that a lossy file-name mapping puts in one file.
COLLIDING = (
    "/a%2Fb", "/a/b", "/a/b.html", "/x", "/x.html",
    "/caf%C3%A9", "/cafe%CC%81",  # café in NFC and in NFD
    "/CON", "/CON%20", "/con.txt", "/docs/", "/docs/index", "/docs/index.html",
    "/list?a=%26", "/list?a=&", "/list?page=1", "/a%3Fb",
    "/deep/" + "d/" * 60 + "name%00" + "z" * 150,  # %00 in a path too long to keep
    "/deep/" + "d/" * 60 + "name%00" + "y" * 150,
)


def colliding_site() -> dict[str, Page]:
    """F8: pages whose bodies say which URL they are."""
    pages = {target: Page(f"<html><title>{target}</title>page {target}</html>".encode())
             for target in COLLIDING}
    pages["/"] = html(*COLLIDING, text="start")
    return pages


def chain_site(count: int, *, size: int = 0) -> dict[str, Page]:
    """F9/F10: ``/`` links to ``count`` pages, each ``size`` bytes of filler long."""
    targets = [f"/p/{i}" for i in range(count)]
    pages = {t: Page(f"<html><title>{t}</title>{t}".encode() + b"." * size + b"</html>")
             for t in targets}
    pages["/"] = html(*targets, text="start")
    return pages


# Minimal images: just enough bytes for a sniffer (and a browser) to know the type.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
GIF = b"GIF89a" + b"\x00" * 40
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40
AVIF = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 40


def poster_site() -> dict[str, Page]:
    """F7: posters whose Content-Type lies, and pages that pose as images."""

    def poster(body: bytes, ctype: bytes) -> Page:
        return Page(body, b"200 OK", ((b"Content-Type", ctype),))

    return {
        "/php": poster(b"<?php system($_GET['c']); ?>", b"image/php"),
        "/html": poster(b"<html><script>alert(1)</script></html>", b"image/html"),
        "/traversal": poster(b"<script>alert(2)</script>", b"image/../../../tmp/x"),
        "/svg": poster(b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"image/png"),
        "/png-as-php": poster(PNG, b"image/php"),
        "/jpeg-as-octets": poster(JPEG, b"application/octet-stream"),
        "/gif": poster(GIF, b"image/gif"),
        "/webp": poster(WEBP, b"image/webp"),
        "/avif": poster(AVIF, b"image/avif"),
        "/big-png": poster(PNG + b"\x00" * 60_000, b"image/png"),
    }
