"""A generated test site holding the traps real sites have, served on 127.0.0.1.

Two host names reach it: ``127.0.0.1`` (the site) and ``localhost`` (another
host, for off-site links). Every request is logged with its arrival time and
Host header, so tests can check what was fetched, how often and how far apart.

Traps: relative, absolute, protocol-relative and ``<base>`` links; fragments;
duplicates differing in scheme case, dot segments and percent-encoding case; a
4-hop redirect chain, a 1-hop redirect and a redirect loop; 404 and 500; a page
slower than the crawl's timeout; a 20 MB page; a binary file named ``.html``; a
PDF; robots.txt with Disallow, Allow, Crawl-delay and a Sitemap line pointing at
a sitemap index (one plain, one gzip sitemap); links to a closed port; malformed
and non-http hrefs; a ``rel=nofollow`` link; a chain of depth 3.

Run it by hand: ``python tests/crawl/site.py --port 8099 --generated 2000``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import socket
import time
from dataclasses import dataclass, field

from aiohttp import web

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Hit:
    """One request the site saw."""

    at: float  # time.monotonic() when the request arrived
    host: str  # the Host header's name part: "127.0.0.1" or "localhost"
    path: str  # path with query string


def closed_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TrapSite:
    """The site. ``await start()``, crawl ``base``, read ``hits``, ``await stop()``."""

    crawl_delay: float | None = None
    slow_seconds: float = 1.5
    big_bytes: int = 20 * MIB
    generated: int = 0
    generated_links: int = 5
    latency: float = 0.0
    #: A busy server: each request also waits this much per request in progress.
    latency_per_active: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    #: How many requests were in progress when each request arrived (itself included).
    concurrency_seen: list[int] = field(default_factory=list)
    port: int = 0
    dead_port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def other(self) -> str:
        return f"http://localhost:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self, host: str = "127.0.0.1") -> list[str]:
        """Paths requested on ``host``, in arrival order."""
        return [h.path for h in self.hits if h.host == host]

    async def start(self, port: int = 0) -> None:
        self.dead_port = closed_port()
        app = web.Application(middlewares=[self._log])
        add = app.router.add_get
        add("/", self.index)
        add("/robots.txt", self.robots)
        add("/sitemap_index.xml", self.sitemap_index)
        add("/sitemap-pages.xml", self.sitemap_pages)
        add("/sitemap-more.xml.gz", self.sitemap_more)
        add("/rel/", self.rel)
        add("/based/", self.based)
        add("/r{n:[1-4]}", self.chain)
        add("/moved", self.moved)
        add("/loop-{x:[ab]}", self.loop)
        add("/missing", self.missing)
        add("/broken", self.broken)
        add("/slow", self.slow)
        add("/big.html", self.big)
        add("/binary.html", self.binary)
        add("/doc.pdf", self.pdf)
        add("/deep/{n:\\d+}", self.deep)
        add("/gen/{n:\\d+}", self.gen)
        add("/{tail:.*}", self.plain)
        # handler_cancellation: a client that gives up on /slow ends its handler.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _log(self, request: web.Request, handler: web.Handler) -> web.StreamResponse:
        host = (request.host or "").rsplit(":", 1)[0].lower()
        self.hits.append(Hit(time.monotonic(), host, request.path_qs))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.concurrency_seen.append(self.active)
        try:
            wait = self.latency + self.latency_per_active * self.active
            if wait:
                await asyncio.sleep(wait)
            return await handler(request)
        finally:
            self.active -= 1

    # -- pages -----------------------------------------------------------------

    @staticmethod
    def _html(title: str, body: str = "", head: str = "") -> web.Response:
        return web.Response(
            text=f"<!doctype html><html><head>{head}<title>{title}</title></head>"
            f"<body>{body}</body></html>",
            content_type="text/html",
        )

    async def index(self, request: web.Request) -> web.Response:
        p, dead = self.port, self.dead_port
        links = [
            "rel/",  # relative
            "/abs",  # absolute path
            f"http://127.0.0.1:{p}/full",  # absolute URL
            f"//127.0.0.1:{p}/proto",  # protocol-relative
            "/frag#one", "/frag#two", "#top", "",  # fragments, self links
            f"HTTP://127.0.0.1:{p}/dup", "/./dup", "/x/../dup", "/dup#z",  # one page
            "/tilde/%7efoo", "/tilde/~foo", "/tilde/%7Efoo",  # one page
            "/based/",
            "/r1", "/moved", "/loop-a",  # redirects
            "/missing", "/broken", "/slow", "/big.html", "/binary.html", "/doc.pdf",
            "/private/secret", "/private/open",  # robots.txt Disallow / Allow
            f"http://localhost:{p}/elsewhere",  # another host
            f"http://127.0.0.1:{dead}/gone",  # connection refused
            "/deep/1",
            "http://[::1", f"http://127.0.0.1:{p}:99999/", "http://x:99999/",  # malformed
            "mailto:someone@example.com", "javascript:void(0)", "tel:+100",  # other schemes
        ]
        body = "".join(f'<a href="{href}">link</a>\n' for href in links)
        body += '<a rel="nofollow noopener" href="/nofollow-target">nf</a><a>no href</a>'
        return self._html("Trap site", body)

    async def robots(self, request: web.Request) -> web.Response:
        lines = ["User-agent: *", "Disallow: /private/", "Allow: /private/open"]
        if self.crawl_delay is not None:
            lines.append(f"Crawl-delay: {self.crawl_delay}")
        lines += ["", "User-agent: BadBot", "Disallow: /", ""]
        lines.append(f"Sitemap: {self.base}/sitemap_index.xml")
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def sitemap_index(self, request: web.Request) -> web.Response:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.base}/sitemap-pages.xml</loc></sitemap>"
            f"<sitemap><loc>{self.base}/sitemap-more.xml.gz</loc></sitemap>"
            "</sitemapindex>"
        )
        return web.Response(text=body, content_type="application/xml")

    @staticmethod
    def _urlset(urls: list[str]) -> bytes:
        entries = "".join(f"<url><loc>{u}</loc><lastmod>2026-01-01</lastmod></url>" for u in urls)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        ).encode()

    async def sitemap_pages(self, request: web.Request) -> web.Response:
        data = self._urlset([f"{self.base}/", f"{self.base}/abs", f"{self.base}/orphan-1"])
        return web.Response(body=data, content_type="application/xml")

    async def sitemap_more(self, request: web.Request) -> web.Response:
        urls = [f"{self.base}/orphan-2", f"{self.base}/private/secret", f"{self.other}/elsewhere"]
        # Served as a file, not with Content-Encoding: the crawler must gunzip it.
        return web.Response(body=gzip.compress(self._urlset(urls)),
                            content_type="application/x-gzip")

    async def rel(self, request: web.Request) -> web.Response:
        return self._html("Relative", '<a href="page1">1</a><a href="./page1">1 again</a>'
                          '<a href="../abs">abs</a>')

    async def based(self, request: web.Request) -> web.Response:
        return self._html("Based", '<a href="target">t</a><a href="../abs">abs</a>',
                          head='<base href="/b/">')

    async def chain(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound("/final" if n == 4 else f"/r{n + 1}")

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/final2")

    async def loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop-b" if request.match_info["x"] == "a" else "/loop-a")

    async def missing(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="<title>Not here</title>", content_type="text/html")

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="<title>Oops</title>", content_type="text/html")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.slow_seconds)
        return self._html("Slow")

    async def big(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        resp.content_length = self.big_bytes
        await resp.prepare(request)
        head = b'<html><head><title>Big</title></head><body><a href="/from-big-start">s</a>'
        tail = b'<a href="/from-big-end">e</a></body></html>'
        filler = b"<p>" + b"x" * 1017 + b"</p>\n"  # 1 KiB
        sent = len(head)
        try:
            await resp.write(head)
            chunk = filler * 64
            while sent + len(chunk) + len(tail) <= self.big_bytes:
                await resp.write(chunk)
                sent += len(chunk)
            await resp.write(b" " * (self.big_bytes - sent - len(tail)) + tail)
        except (ConnectionResetError, ConnectionError):
            pass  # the crawler hung up at its size limit: expected
        return resp

    async def binary(self, request: web.Request) -> web.Response:
        data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
        data += b'<a href="/from-binary">x</a>'
        return web.Response(body=data, headers={"Content-Type": "text/html"})

    async def pdf(self, request: web.Request) -> web.Response:
        data = b'%PDF-1.4\n1 0 obj << /URI (/from-pdf) >> endobj\n<a href="/from-pdf">\n%%EOF\n'
        return web.Response(body=data, content_type="application/pdf")

    async def deep(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        body = f'<a href="/deep/{n + 1}">deeper</a>' if n < 3 else "bottom"
        return self._html(f"Deep {n}", body)

    async def gen(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        total = max(self.generated, 1)
        targets = {(n * self.generated_links + k + 1) % total for k in range(self.generated_links)}
        body = "".join(f'<a href="/gen/{t}">page {t}</a>' for t in sorted(targets))
        return self._html(f"Generated {n}", body + "<p>" + "text " * 200 + "</p>")

    async def plain(self, request: web.Request) -> web.Response:
        return self._html(f"Page {request.path}", '<a href="/">home</a>')


async def _serve(port: int, generated: int, crawl_delay: float | None) -> None:
    site = TrapSite(generated=generated, crawl_delay=crawl_delay)
    await site.start(port)
    print(f"trap site on {site.base}/ (generated pages from {site.base}/gen/0)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await site.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--generated", type=int, default=1000)
    parser.add_argument("--crawl-delay", type=float, default=None)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.generated, args.crawl_delay))
