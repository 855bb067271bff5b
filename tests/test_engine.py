"""The engine against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from corocrawl import Crawler, Request, Response
from corocrawl._exceptions import ConfigError, InvalidSelector, RunningLoopError, UsageError


class Site:
    """A small site whose handlers count what they see."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.active = 0
        self.max_active = 0
        self.times: dict[str, list[float]] = {}
        self.app = web.Application()
        self.app.router.add_get("/page/{n}", self.page)
        self.app.router.add_get("/flaky/{n}", self.flaky)
        self.app.router.add_get("/slow", self.slow)
        self.app.router.add_get("/teapot", self.teapot)
        self.app.router.add_get("/missing", self.missing)
        self.app.router.add_get("/big", self.big)

    async def page(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] += 1
        self.times.setdefault(path, []).append(time.monotonic())
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(float(request.query.get("sleep", "0.02")))
        finally:
            self.active -= 1
        n = int(request.match_info["n"])
        links = "".join(
            f'<a href="/page/{k}">p{k}</a><a href="/page/{k}#frag">again</a>'
            for k in (2 * n, 2 * n + 1)
            if k < int(request.query.get("limit", "16"))
        )
        limit = request.query.get("limit", "16")
        links = links.replace('">p', f'?limit={limit}">p').replace(
            '#frag"', f'?limit={limit}#frag"'
        )
        return web.Response(
            text=f"<html><title>page {n}</title><body>{links}</body></html>",
            content_type="text/html",
        )

    async def flaky(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] += 1
        self.times.setdefault(path, []).append(time.monotonic())
        if self.hits[path] < 3:
            return web.Response(status=503, headers={"Retry-After": "1"})
        return web.Response(text="<title>ok</title>", content_type="text/html")

    async def slow(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def teapot(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.Response(status=418, text="")

    async def missing(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.Response(status=404, text="nope")

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 50_000, content_type="text/html")


@pytest.fixture
async def site() -> AsyncIterator[tuple[Site, TestServer]]:
    s = Site()
    server = TestServer(s.app, host="127.0.0.1")
    await server.start_server()
    try:
        yield s, server
    finally:
        await server.close()


def url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))


async def titles(resp: Response) -> AsyncIterator[Request | dict[str, str]]:
    yield {"url": resp.url, "title": resp.css_first("title").text()}  # type: ignore[union-attr]
    for a in resp.css("a"):
        yield resp.follow(a.attrs["href"] or "", titles)


async def test_follows_links_once_each(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler(concurrency=8, item_key="url")
    crawler.handler(titles)
    crawler.add_start(Request(url(server, "/page/1?limit=16"), titles))
    stats = await crawler.crawl()
    assert stats.pages == 15
    assert sorted(s.hits) == sorted(f"/page/{n}" for n in range(1, 16))
    assert set(s.hits.values()) == {1}, "dedup: fragments and repeats are fetched once"
    assert len(crawler.items) == 15
    assert stats.error_count == 0


async def test_retry_honours_retry_after(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler(retries=3, backoff_base=0.01)
    crawler.handler(titles)
    crawler.add_start(Request(url(server, "/flaky/1"), titles))
    stats = await crawler.crawl()
    assert s.hits["/flaky/1"] == 3
    assert stats.retries == 2 and stats.pages == 1 and stats.error_count == 0
    gaps = [b - a for a, b in zip(s.times["/flaky/1"], s.times["/flaky/1"][1:], strict=False)]
    assert all(gap >= 0.95 for gap in gaps), gaps


async def test_retries_are_capped(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler(retries=1)
    crawler.handler(titles)
    crawler.add_start(Request(url(server, "/flaky/2"), titles))
    stats = await crawler.crawl()
    assert s.hits["/flaky/2"] == 2
    assert stats.pages == 0 and stats.error_kinds["http_503"] == 1


async def test_timeout_is_recorded_not_raised(site: tuple[Site, TestServer]) -> None:
    from corocrawl import Timeouts

    _s, server = site
    crawler = Crawler(retries=0, timeouts=Timeouts(connect=1, read=0.3, total=0.5))
    crawler.handler(titles)
    crawler.add_start(
        Request(url(server, "/slow"), titles), Request(url(server, "/page/1?limit=2"), titles)
    )
    stats = await crawler.crawl()
    assert stats.error_kinds["timeout"] == 1
    assert stats.pages == 1
    assert stats.errors[0].url.endswith("/slow")


async def test_teapot_blocks_the_host(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler(concurrency=1)
    crawler.handler(titles)
    crawler.add_start(*(Request(url(server, f"/teapot?n={n}"), titles) for n in range(5)))
    stats = await crawler.crawl()
    assert stats.error_kinds["blocked"] == 5
    assert s.hits["/teapot"] == 1, "after a 418 the host is not asked again"


async def test_http_errors_are_recorded(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler()
    crawler.handler(titles)
    crawler.add_start(Request(url(server, "/missing"), titles))
    stats = await crawler.crawl()
    assert stats.error_kinds == Counter({"http_404": 1})
    assert s.hits["/missing"] == 1, "a 404 is not retried"


async def test_per_host_cap_holds(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler(concurrency=20, per_host=3)
    crawler.handler(titles)
    crawler.add_start(
        *(Request(url(server, f"/page/100?sleep=0.05&i={i}"), titles) for i in range(30))
    )
    stats = await crawler.crawl()
    assert stats.pages == 30
    assert s.max_active == 3


async def test_per_host_delay_spaces_requests(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler(concurrency=4, per_host=4, delay=0.1, jitter=0.0)
    crawler.handler(titles)
    crawler.add_start(*(Request(url(server, f"/page/100?sleep=0&i={i}"), titles) for i in range(5)))
    await crawler.crawl()
    stamps = sorted(s.times["/page/100"])
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # Spacing is enforced when requests start in the client; one request held up
    # on a loaded machine can arrive late, so bound the runs, not each gap.
    assert len(stamps) == 5, stamps
    assert stamps[-1] - stamps[0] >= 0.4 - 0.05, gaps
    assert sorted(gaps)[len(gaps) // 2] >= 0.09, gaps


async def test_callback_errors_do_not_stop_the_crawl(site: tuple[Site, TestServer]) -> None:
    _s, server = site
    crawler = Crawler()

    @crawler.start(url(server, "/page/1?limit=8"))
    async def parse(resp: Response) -> AsyncIterator[Request | dict[str, str]]:
        yield {"url": resp.url}
        for a in resp.css("a"):
            yield resp.follow(a.attrs["href"] or "", parse)
        if resp.url.endswith("/page/2?limit=8"):
            raise ValueError("boom")

    stats = await crawler.crawl()
    assert stats.pages == 7
    assert stats.error_kinds["callback"] == 1
    assert "boom" in stats.errors[0].message
    assert len(crawler.items) == 7, "items yielded before the exception are kept"


async def test_bad_selector_is_a_usage_error(site: tuple[Site, TestServer]) -> None:
    _s, server = site
    crawler = Crawler()

    @crawler.start(url(server, "/page/1"))
    async def parse(resp: Response) -> AsyncIterator[dict[str, str]]:
        resp.css("div[[")
        yield {}

    with pytest.raises(InvalidSelector, match="bad CSS selector 'div\\[\\['"):
        await crawler.crawl()


async def test_max_pages_and_depth(site: tuple[Site, TestServer]) -> None:
    _s, server = site
    crawler = Crawler(concurrency=1, max_depth=1)
    crawler.handler(titles)
    crawler.add_start(Request(url(server, "/page/1?limit=64"), titles))
    stats = await crawler.crawl()
    assert stats.pages == 3 and stats.dropped["max_depth"] > 0
    crawler = Crawler(concurrency=2, max_pages=5)
    crawler.handler(titles)
    crawler.add_start(Request(url(server, "/page/1?limit=64"), titles))
    stats = await crawler.crawl()
    assert stats.pages == 5


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_the_last_commit_ends_the_crawl_not_the_idle_poll(
    site: tuple[Site, TestServer], store: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle workers are woken by the commit that leaves nothing to do (issue 13).

    With the poll at an hour, a crawl that waited for it would never end: the
    asyncio.timeout bounds the test, it measures nothing.
    """
    from corocrawl import _engine

    monkeypatch.setattr(_engine, "_IDLE_POLL", 3600.0)
    s, server = site
    crawler = Crawler(concurrency=8, item_key="url")
    crawler.handler(titles)
    crawler.add_start(Request(url(server, "/page/1?limit=16"), titles))
    async with asyncio.timeout(60):
        stats = await crawler.crawl(db=tmp_path / "c.db" if store == "sqlite" else None)
    assert stats.pages == 15 and set(s.hits.values()) == {1}
    assert len(crawler.items) == 15
    assert stats.stop_reason is None, "a crawl that ran out of pages was not stopped"


async def test_max_pages_is_not_claimed_by_workers_woken_at_the_end(
    site: tuple[Site, TestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker cancelled in lease() gives back the page it had reserved."""
    from corocrawl import _engine

    monkeypatch.setattr(_engine, "_IDLE_POLL", 3600.0)
    _s, server = site
    crawler = Crawler(concurrency=8, max_pages=16)
    crawler.handler(titles)
    crawler.add_start(Request(url(server, "/page/1?limit=16"), titles))
    async with asyncio.timeout(60):
        stats = await crawler.crawl()
    assert stats.pages == 15 and stats.stop_reason is None


async def test_graceful_stop_keeps_what_was_yielded(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler(concurrency=4, per_host=4)
    crawler.handler(titles)
    crawler.add_start(
        *(Request(url(server, f"/page/100?sleep=0.2&i={i}"), titles) for i in range(40))
    )
    task = asyncio.create_task(crawler.crawl())
    await asyncio.sleep(0.3)
    crawler.stop("test")
    stats = await asyncio.wait_for(task, 5)
    assert stats.stop_reason == "test"
    assert 4 <= stats.pages < 40
    assert len(crawler.items) == stats.pages, "every handled page's item was flushed"
    assert s.hits["/page/100"] == stats.pages


async def test_run_inside_a_loop_says_await_crawl() -> None:
    crawler = Crawler()
    crawler.handler(titles)
    crawler.add_start(Request("http://127.0.0.1:9/", titles))
    with pytest.raises(RunningLoopError, match=r"await crawler\.crawl"):
        crawler.run()


def test_unknown_setting_names_valid_ones() -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        Crawler(concurency=3)


async def test_body_size_cap(site: tuple[Site, TestServer]) -> None:
    _s, server = site
    crawler = Crawler(max_body=10_000)
    sizes = []

    @crawler.start(url(server, "/big"))
    async def parse(resp: Response) -> AsyncIterator[dict[str, int]]:
        sizes.append((len(resp.body), resp.truncated))
        yield {"n": 1}

    await crawler.crawl()
    assert sizes == [(10_000, True)]


async def test_callbacks_in_worker_processes(site: tuple[Site, TestServer]) -> None:
    s, server = site
    crawler = Crawler(concurrency=8, processes=2, item_key="url")

    @crawler.start(url(server, "/page/1?limit=16"))
    async def parse(resp: Response) -> AsyncIterator[Request | dict[str, Any]]:
        yield {"url": resp.url, "title": resp.css_first("title").text(), "pid": os.getpid()}  # type: ignore[union-attr]
        for a in resp.css("a"):
            yield resp.follow(a.attrs["href"] or "", parse)
        if resp.url.endswith("/page/3?limit=16"):
            raise ValueError("boom in a child")

    stats = await crawler.crawl()
    assert stats.pages == 15 and len(crawler.items) == 15
    assert set(s.hits.values()) == {1}
    assert os.getpid() not in {item["pid"] for item in crawler.items}
    assert stats.error_kinds["callback"] == 1 and "boom in a child" in stats.errors[0].message


async def test_unregistered_callback_in_worker_processes(site: tuple[Site, TestServer]) -> None:
    _s, server = site
    crawler = Crawler(processes=2)

    async def later(resp: Response) -> AsyncIterator[dict[str, str]]:
        yield {"url": resp.url}

    @crawler.start(url(server, "/page/1?limit=4"))
    async def parse(resp: Response) -> AsyncIterator[Request]:
        yield resp.follow("/page/2?limit=4", later)

    with pytest.raises(UsageError, match=r"decorate it with @crawler\.handler"):
        await crawler.crawl()


def test_host_timings_stay_bounded() -> None:
    from corocrawl._stats import MAX_TIMED_HOSTS, CrawlStats

    stats = CrawlStats()
    for i in range(5 * MAX_TIMED_HOSTS):
        stats.record_response(f"h{i}:80", 200, 0.001 if i != 7 else 9.0, 10)
    assert len(stats.hosts) <= MAX_TIMED_HOSTS
    assert "h7:80" in stats.hosts  # the slowest is kept for the report
