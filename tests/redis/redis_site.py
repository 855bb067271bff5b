"""A small douban-shaped site for the distributed tests: list pages and subject pages.

It counts hits per path and the most requests it ever served at once per
``Host`` header, so a test can check the per-host cap held across workers.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

from aiohttp import web


class ReplicaSite:
    """``/later/<n>/`` lists ``per_list`` subjects; ``/subject/<id>/`` shows a poster."""

    def __init__(self, lists: int = 100, per_list: int = 29, latency: float = 0.01) -> None:
        self.lists = lists
        self.per_list = per_list
        self.latency = latency
        self.hits: Counter[str] = Counter()
        self.active: Counter[str] = Counter()
        self.max_active: defaultdict[str, int] = defaultdict(int)
        self._watchers: list[tuple[int, asyncio.Event]] = []
        self.app = web.Application()
        self.app.router.add_get("/later/{n}/", self.listing)
        self.app.router.add_get("/subject/{sid}/", self.subject)

    @property
    def pages(self) -> int:
        return self.lists * (1 + self.per_list)

    def reset(self) -> None:
        self.hits.clear()
        self.max_active.clear()

    async def fetched(self, count: int) -> None:
        """Return once ``count`` requests have been served."""
        event = asyncio.Event()
        self._watchers.append((count, event))
        self._notify()
        await event.wait()

    def _notify(self) -> None:
        total = self.hits.total()
        for count, event in self._watchers:
            if total >= count:
                event.set()

    async def _enter(self, request: web.Request) -> None:
        host = request.host
        self.hits[request.path] += 1
        self._notify()
        self.active[host] += 1
        self.max_active[host] = max(self.max_active[host], self.active[host])
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.active[host] -= 1

    async def listing(self, request: web.Request) -> web.Response:
        await self._enter(request)
        n = int(request.match_info["n"])
        first = n * self.per_list
        items = "".join(
            f'<div class="item mod"><h3><a href="/subject/{sid}/">Movie {sid}</a></h3></div>'
            for sid in range(first, first + self.per_list)
        )
        pager = "".join(
            f'<a class="next" href="/later/{k}/">{k}</a>'
            for k in range(n + 1, min(n + 6, self.lists))
        )
        html = f'<html><title>list {n}</title><div id="showing-soon">{items}</div>{pager}</html>'
        return web.Response(text=html, content_type="text/html")

    async def subject(self, request: web.Request) -> web.Response:
        await self._enter(request)
        sid = request.match_info["sid"]
        html = f'<html><div id="mainpic"><a><img src="/img/p{sid}.jpg"></a></div></html>'
        return web.Response(text=html, content_type="text/html")
