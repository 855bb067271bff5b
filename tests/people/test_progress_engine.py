"""Progress, summary and --log-json events on a real crawl with injected errors."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from corocrawl import Crawler, Response
from corocrawl._progress import summary_from_stats, summary_text


@pytest.fixture
async def flaky_site() -> AsyncIterator[str]:
    served: Counter[str] = Counter()

    async def start(request: web.Request) -> web.Response:
        links = "".join(f'<a href="/ok/{i}">{i}</a>' for i in range(8))
        links += '<a href="/boom">x</a><a href="/missing">y</a><a href="/flaky">z</a>'
        return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="<html><title>ok</title></html>", content_type="text/html")

    async def boom(request: web.Request) -> web.Response:
        raise web.HTTPInternalServerError()

    async def flaky(request: web.Request) -> web.Response:
        served["flaky"] += 1
        if served["flaky"] == 1:
            raise web.HTTPServiceUnavailable()
        return web.Response(text="<html><title>late</title></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", start)
    app.router.add_get("/ok/{n}", ok)
    app.router.add_get("/boom", boom)
    app.router.add_get("/flaky", flaky)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("processes", [1, 2])
async def test_crawl_with_injected_errors(flaky_site: str, tmp_path: Path, processes: int) -> None:
    events_path = tmp_path / "events.jsonl"
    crawler = Crawler(concurrency=4, retries=1, backoff_base=0.01, backoff_max=0.05,
                      processes=processes)

    @crawler.start(flaky_site)
    async def links(resp: Response) -> AsyncIterator[Any]:
        for a in resp.css("a"):
            yield resp.follow(a.attrs["href"], page)

    @crawler.handler
    async def page(resp: Response) -> AsyncIterator[Any]:
        yield {"url": resp.url}

    # The events come from the engine's page hook, whatever the frontier; with
    # processes=2 each crawl process sends its pages' events to the main one.
    stats = await crawler.crawl(progress=False, log_json=events_path)

    text = summary_text(summary_from_stats(stats), width=160)
    print(text)
    assert stats.pages == 10 and stats.items == 9
    assert "200 OK" in text and "500 Internal Server Error" in text and "404 Not Found" in text
    assert "http_500" in text and "/boom" in text
    assert "http_404" in text and "/missing" in text
    assert "2 errors, 2 retries" in text  # /boom and /flaky were each retried once

    lines = [json.loads(line) for line in events_path.read_text().splitlines()]
    kinds = Counter(line["event"] for line in lines)
    assert kinds["start"] == 1 and kinds["page"] == 10 and kinds["finish"] == 1
    pages = [line for line in lines if line["event"] == "page"]
    assert all(p["status"] == 200 and p["seconds"] >= 0 for p in pages)
    assert kinds["error"] == 2
    retries = [line for line in lines if line["event"] == "retry"]
    assert any(r["url"].endswith("/flaky") for r in retries)
    assert {line["kind"] for line in lines if line["event"] == "error"} == {"http_500", "http_404"}
