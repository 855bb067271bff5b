"""The replica as an ``aiohttp.web`` application: routes, fault injection, caching.

Pages are rendered once per (host, page) and kept as bytes, so the site serves
thousands of pages per second; latency is an ``asyncio.sleep``. Faults are a
pure function of ``(seed, path, attempt)``, so a test can predict them.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import random
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ._config import DemoConfig
from ._data import Movie, make_movies
from ._images import POSTER_SIZE, THUMB_SIZE, jpeg_bytes
from ._pages import (
    detail_chrome,
    detail_frame,
    error_page,
    footer,
    list_page,
    not_found_page,
    padding_pool,
    pick_padding,
)
from ._stats import RESET, DemoStats

log = logging.getLogger(__name__)

STATS_KEY = web.AppKey("corocrawl_demo_stats", DemoStats)
SITE_KEY: web.AppKey[_Site] = web.AppKey("corocrawl_demo_site")
# The attempt number of the request being handled, set by the counting middleware.
# A context variable, not request storage: it works on every aiohttp 3.9+.
_ATTEMPT: contextvars.ContextVar[int] = contextvars.ContextVar("corocrawl_demo_attempt")

HTML_UTF8 = "text/html; charset=utf-8"
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"
# The third attempt of a path never fails transiently, so three tries always suffice.
CLEAN_ATTEMPT = 3
# The per-movie parts of detail pages kept rendered (~10 KB each; the chrome,
# comments and footer are shared); past this many bytes the least recently used go.
FRAME_CACHE_BYTES = 128 * 1024 * 1024

FaultKind = Literal["500", "503", "reset"]
_FAULT_KINDS: tuple[FaultKind, ...] = ("500", "503", "reset")
_SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def _unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from ``parts`` (not Python's salted hash)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def transient_fault(config: DemoConfig, path: str, attempt: int) -> FaultKind | None:
    """The fault injected into the ``attempt``-th request of detail page ``path``, or None.

    A path fails an attempt with probability ``error_rate``; its attempts rotate
    through 500, 503 (with ``Retry-After: 1``) and a reset connection; attempt 3
    and later always succeed.

    >>> transient_fault(DemoConfig(error_rate=1.0), "/subject/1/", 3) is None
    True
    """
    if attempt >= CLEAN_ATTEMPT or config.error_rate <= 0:
        return None
    if _unit(config.seed, "error", path, attempt) >= config.error_rate:
        return None
    first = int(_unit(config.seed, "kind", path) * len(_FAULT_KINDS))
    return _FAULT_KINDS[(first + attempt - 1) % len(_FAULT_KINDS)]


class _Site:
    """The movies, their rendered pages, and the request handlers."""

    def __init__(self, config: DemoConfig, stats: DemoStats) -> None:
        self.config = config
        self.stats = stats
        self.movies = make_movies(config)
        self.by_id = {m.subject_id: m for m in self.movies}
        self.by_photo = {m.photo_id: m for m in self.movies}
        self.by_city: dict[str, list[Movie]] = {c: [] for c in config.cities}
        for movie in self.movies:
            self.by_city[movie.city].append(movie)
        self._list_cache: dict[tuple[str, str], bytes] = {}
        self._pools: dict[str, tuple[list[bytes], list[int]]] = {}
        self._shared: dict[tuple[str, ...], bytes] = {}
        self._frames: OrderedDict[tuple[str, int], tuple[bytes, ...]] = OrderedDict()
        self._frames_bytes = 0
        self._latency = random.Random(f"corocrawl-demo:{config.seed}:latency")

    # -- helpers -------------------------------------------------------------

    def base(self, request: web.Request) -> str:
        """``http://host`` as the client addressed us, so links work on any mirror.

        A missing or odd Host header falls back to the address the client
        connected to (``request.host`` would look the machine's name up instead).
        """
        host = request.headers.get("Host", "")
        if not _SAFE_HOST.match(host):
            sockname = request.transport.get_extra_info("sockname") if request.transport else None
            if sockname:
                address = f"[{sockname[0]}]" if ":" in sockname[0] else sockname[0]
                host = f"{address}:{sockname[1]}"
            else:
                host = "127.0.0.1"
        return f"http://{host}"

    def blocked(self, request: web.Request) -> bool:
        """The live site answers 418 to a User-Agent that is not a browser's."""
        return self.config.block_bots and "Mozilla/" not in request.headers.get("User-Agent", "")

    def page(self, body: bytes, content_type: str = HTML_UTF8) -> web.Response:
        """A 200 HTML response, compressed when ``config.gzip`` and the client accepts it."""
        response = web.Response(body=body, headers={"Content-Type": content_type})
        if self.config.gzip:
            response.enable_compression()
        return response

    def html(self, request: web.Request, what: str, status: int = 404) -> web.Response:
        body = not_found_page(self.base(request), what).encode()
        return web.Response(body=body, status=status, headers={"Content-Type": HTML_UTF8})

    def list_bytes(self, base: str, city: str) -> bytes:
        """The list page of ``city`` as served under ``base`` (rendered once)."""
        key = (base, city)
        body = self._list_cache.get(key)
        if body is None:
            text = list_page(city, self.by_city[city], base)
            if city in self.config.gbk_cities:
                # Mimics a page re-saved on Windows: GBK bytes, CRLF, a utf-8 <meta>.
                body = text.replace("\n", "\r\n").encode("gbk")
            else:
                body = text.encode()
            self._list_cache[key] = body
        return body

    def pool(self, base: str) -> tuple[list[bytes], list[int]]:
        """Shared comment/review blocks for pages served under ``base``, and their sizes."""
        pool = self._pools.get(base)
        if pool is None:
            blocks = [b.encode() for b in padding_pool(base, self.config.seed)]
            pool = self._pools[base] = (blocks, [len(b) for b in blocks])
        return pool

    def shared(self, key: tuple[str, ...], render: Callable[[], str]) -> bytes:
        """Bytes common to many pages (chrome, footer), rendered once per key."""
        chunk = self._shared.get(key)
        if chunk is None:
            chunk = self._shared[key] = render().encode()
        return chunk

    def detail_bytes(self, base: str, movie: Movie) -> bytes:
        """The detail page: the movie's cached parts around cached shared blocks."""
        key = (base, movie.subject_id)
        frame = self._frames.get(key)
        if frame is None:
            frame = self._render_frame(base, movie)
            self._frames[key] = frame
            self._frames_bytes += len(frame[0]) + len(frame[2]) + len(frame[-2])
            while self._frames_bytes > FRAME_CACHE_BYTES and self._frames:
                _, old = self._frames.popitem(last=False)
                self._frames_bytes -= len(old[0]) + len(old[2]) + len(old[-2])
        else:
            self._frames.move_to_end(key)
        return b"".join(frame)

    def _render_frame(self, base: str, movie: Movie) -> tuple[bytes, ...]:
        seed = self.config.seed
        rng = random.Random(f"corocrawl-demo:{seed}:padding:{movie.subject_id}")
        sample = rng.sample(self.movies, min(10, len(self.movies)))
        others = [m for m in sample if m is not movie][:9]
        head, top, bottom = (part.encode() for part in detail_frame(movie, others, base, seed))
        chrome = self.shared(("chrome", base, movie.city), lambda: detail_chrome(base, movie.city))
        end = self.shared(("footer", base), lambda: footer(base))
        blocks, sizes = self.pool(base)
        size = rng.randint(32_000, 58_000)  # inside the 30-60 KB of real detail pages
        room = size - sum(map(len, (head, chrome, top, bottom, end)))
        chosen = pick_padding(rng, sizes, room)
        return (head, chrome, top, *(blocks[i] for i in chosen), bottom, end)

    def warm(self, base: str) -> None:
        """Render every list page and detail page for ``base`` now, not on first request."""
        for city in self.by_city:
            self.list_bytes(base, city)
        for movie in self.movies:
            self.detail_bytes(base, movie)

    # -- handlers --------------------------------------------------------------

    async def later(self, request: web.Request) -> web.StreamResponse:
        """``/cinema/later/<city>/``: every movie of the city on one page."""
        if self.blocked(request):
            return _teapot()
        city = request.match_info["city"]
        if city not in self.by_city:
            return self.html(request, f"没有城市 {city} 的影讯")
        body = self.list_bytes(self.base(request), city)
        content_type = "text/html" if city in self.config.gbk_cities else HTML_UTF8
        return self.page(body, content_type)

    async def later_no_slash(self, request: web.Request) -> web.StreamResponse:
        """The real site redirects the slash-less list URL."""
        raise web.HTTPMovedPermanently(f"/cinema/later/{request.match_info['city']}/")

    async def subject(self, request: web.Request) -> web.StreamResponse:
        """``/subject/<id>/``: the detail page, unless a fault is injected."""
        if self.blocked(request):
            return _teapot()
        movie = self.by_id.get(int(request.match_info["subject_id"]))
        if movie is None:
            return self.html(request, "条目不存在")
        if movie.always_fails:
            return _server_error(500)
        fault = transient_fault(self.config, request.path_qs, _ATTEMPT.get(1))
        if fault == "500":
            return _server_error(500)
        if fault == "503":
            return _server_error(503, {"Retry-After": "1"})
        if fault == "reset":
            if request.transport is not None:
                request.transport.abort()  # RST instead of an answer
            return _ResetResponse(status=500)  # never reaches the client
        return self.page(self.detail_bytes(self.base(request), movie))

    async def photo(self, request: web.Request) -> web.StreamResponse:
        """Posters and thumbs: a flat-colour JPEG per movie."""
        movie = self.by_photo.get(int(request.match_info["photo_id"]))
        size = {"s_ratio_poster": THUMB_SIZE, "l": POSTER_SIZE}.get(request.match_info["size"])
        if movie is None or size is None:
            return web.Response(status=404, text="not found")
        body = jpeg_bytes(size[0], size[1], movie.colour)
        return web.Response(
            body=body,
            headers={"Content-Type": "image/jpeg", "Cache-Control": "max-age=2592000"},
        )

    async def robots(self, request: web.Request) -> web.StreamResponse:
        """Allow everything."""
        return web.Response(body=ROBOTS_TXT, headers={"Content-Type": "text/plain"})

    async def index(self, request: web.Request) -> web.StreamResponse:
        """A small home page linking each city's list page."""
        base = self.base(request)
        links = "".join(
            f'<li><a href="{base}/cinema/later/{c}/">{c}</a> ({len(ms)})</li>'
            for c, ms in self.by_city.items()
        )
        body = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>corocrawl demo</title></head>'
            f"<body><h1>即将上映</h1><ul>{links}</ul></body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def stats_json(self, request: web.Request) -> web.StreamResponse:
        """``GET /_demo/stats``: the counters as JSON (not counted themselves)."""
        include_log = request.query.get("log", "1") != "0"
        return web.Response(
            body=orjson.dumps(self.stats.snapshot(include_log)),
            headers={"Content-Type": "application/json"},
        )

    async def stats_reset(self, request: web.Request) -> web.StreamResponse:
        """``POST /_demo/reset``: zero the counters."""
        self.stats.reset()
        return web.Response(status=204)

    def middleware(self) -> Middleware:
        """Count, delay and log every request except ``/_demo/``."""

        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith("/_demo/"):
                return await handler(request)
            path, host = request.path_qs, request.headers.get("Host", "")
            attempt = self.stats.begin(path, host)
            token = _ATTEMPT.set(attempt)
            status = 500
            try:
                low, high = self.config.latency
                if high > 0:
                    await asyncio.sleep(self._latency.uniform(low, high))
                response = await handler(request)
                status = RESET if isinstance(response, _ResetResponse) else response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                _ATTEMPT.reset(token)
                self.stats.end(path, attempt, host, status)

        return count


class _ResetResponse(web.Response):
    """Marks a request whose connection was reset on purpose (for the stats)."""


def _teapot() -> web.Response:
    # The live site answers bots with 418 and an empty body.
    return web.Response(status=418, body=b"", headers={"Content-Type": HTML_UTF8})


def _server_error(status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=error_page(status).encode(),
        headers={"Content-Type": HTML_UTF8, **(headers or {})},
    )


def build_app(config: DemoConfig | None = None, stats: DemoStats | None = None) -> web.Application:
    """The replica site as an ``aiohttp.web.Application``.

    >>> app = build_app(DemoConfig(movies=10))
    >>> app[STATS_KEY].total
    0
    """
    config = config or DemoConfig()
    stats = stats or DemoStats()
    site = _Site(config, stats)
    app = web.Application(middlewares=[site.middleware()])
    app[STATS_KEY] = stats
    app[SITE_KEY] = site
    app.router.add_get("/", site.index)
    app.router.add_get("/robots.txt", site.robots)
    app.router.add_get("/cinema/later/{city}/", site.later)
    app.router.add_get("/cinema/later/{city}", site.later_no_slash)
    app.router.add_get(r"/subject/{subject_id:\d{1,12}}/", site.subject)
    app.router.add_get(r"/view/photo/{size}/public/p{photo_id:\d{1,12}}.jpg", site.photo)
    app.router.add_get("/_demo/stats", site.stats_json)
    app.router.add_post("/_demo/reset", site.stats_reset)
    return app
