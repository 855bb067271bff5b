"""A small documentation site on loopback, and a spider for it written on the public API."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from aiohttp import web

from corocrawl import Crawler, Response


@pytest.fixture
async def docs_site() -> AsyncIterator[str]:
    """Ten linked pages and a JSON endpoint."""

    async def index(request: web.Request) -> web.Response:
        links = "".join(f'<li><a href="/page/{i}">page {i}</a></li>' for i in range(10))
        return web.Response(text=f"<html><body><ul>{links}</ul></body></html>",
                            content_type="text/html")

    async def page(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        return web.Response(text=f"<html><h1>Page {n}</h1><p class=n>{n}</p></html>",
                            content_type="text/html")

    async def api(request: web.Request) -> web.Response:
        return web.json_response({"pages": 10, "名": "文档"})

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/page/{n}", page)
    app.router.add_get("/api", api)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@dataclasses.dataclass
class Page:
    url: str
    title: str
    number: int


@attrs.define
class AttrsPage:
    url: str
    title: str


def docs_crawler(base: str, item_type: str = "dataclass") -> Crawler:
    crawler = Crawler(concurrency=4)

    @crawler.start(base + "/")
    async def index(resp: Response) -> AsyncIterator[Any]:
        for request in resp.follow_all("ul a", page):
            yield request

    @crawler.handler
    async def page(resp: Response) -> AsyncIterator[Any]:
        title = resp.xpath("//h1/text()").get()
        number = int(resp.css_first("p.n").text())
        if item_type == "dataclass":
            yield Page(resp.url, title, number)
        elif item_type == "attrs":
            yield AttrsPage(resp.url, title)
        else:
            yield {"url": resp.url, "title": title}

    return crawler
