"""``processes=N``: whole engines in forked processes over one frontier, on a real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from corocrawl import Crawler, Request, Response
from corocrawl._exceptions import InvalidSelector, StorageError
from corocrawl._parallel import split_concurrency

#: Pages of the site: page n links to 2n+1 and 2n+2, so every page is reachable.
PAGES = 40


class CountingSite:
    """Pages that count their hits and how many requests are in flight at once."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.active = 0
        self.max_active = 0
        self.app = web.Application()
        self.app.router.add_get("/page/{n}", self.page)
        self.app.router.add_get("/teapot/{n}", self.teapot)
        self.app.router.add_get("/broken/{n}", self.broken)
        self.app.router.add_get("/flaky/{n}", self.flaky)

    async def page(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(0.01)
        finally:
            self.active -= 1
        n = int(request.match_info["n"])
        links = "".join(f'<a href="/page/{k}">p{k}</a>' for k in (2 * n + 1, 2 * n + 2)
                        if k < PAGES)
        return web.Response(text=f"<html><title>page {n}</title><body>{links}</body></html>",
                            content_type="text/html")

    async def teapot(self, request: web.Request) -> web.Response:
        self.hits["teapot"] += 1
        return web.Response(status=418)

    async def broken(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.Response(status=500)

    async def flaky(self, request: web.Request) -> web.Response:
        """503 the first time, then a page."""
        self.hits[request.path] += 1
        if self.hits[request.path] == 1:
            return web.Response(status=503)
        return web.Response(text="<html><title>flaky</title></html>", content_type="text/html")


@pytest.fixture
async def site() -> AsyncIterator[tuple[CountingSite, str]]:
    counting = CountingSite()
    runner = web.AppRunner(counting.app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    try:
        yield counting, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def page_crawler(base: str, **settings: Any) -> Crawler:
    crawler = Crawler(retries=0, **settings)

    @crawler.start(f"{base}/page/0")
    async def page(resp: Response) -> AsyncIterator[Request | dict[str, Any]]:
        yield {"url": resp.url, "title": resp.css_first("title").text(), "pid": os.getpid()}
        for link in resp.css("a"):
            yield resp.follow(link.attrs["href"] or "", page)

    return crawler


def test_concurrency_is_split_across_processes() -> None:
    assert split_concurrency(64, 2) == [32, 32]
    assert split_concurrency(5, 2) == [3, 2]
    assert split_concurrency(1, 3) == [1, 1, 1]


async def test_two_processes_share_one_frontier(site: tuple[CountingSite, str]) -> None:
    counting, base = site
    crawler = page_crawler(base, concurrency=8, processes=2)
    stats = await crawler.crawl()
    items = list(crawler.items)
    # Every page once: none fetched twice, none lost.
    assert counting.hits == Counter({f"/page/{n}": 1 for n in range(PAGES)})
    assert sorted(item["url"] for item in items) == sorted(f"{base}/page/{n}" for n in range(PAGES))
    # Parsed in the crawl processes, not here.
    assert os.getpid() not in {item["pid"] for item in items}
    # The children's counters add up in the crawl's stats.
    assert (stats.pages, stats.items, stats.requests, stats.failed) == (PAGES, PAGES, PAGES, 0)
    assert stats.statuses == Counter({200: PAGES})
    assert stats.hosts[f"127.0.0.1:{base.rsplit(':', 1)[1]}"].requests == PAGES
    assert stats.in_flight == 0 and stats.stop_reason is None


async def test_per_host_cap_holds_across_processes(site: tuple[CountingSite, str]) -> None:
    counting, base = site
    crawler = page_crawler(base, concurrency=16, per_host=2, processes=2)
    stats = await crawler.crawl()
    assert stats.pages == PAGES
    # Counted by the server: the parent's frontier counts every lease it handed out.
    assert counting.max_active <= 2


async def test_max_pages_counts_across_processes(site: tuple[CountingSite, str]) -> None:
    counting, base = site
    crawler = page_crawler(base, concurrency=8, processes=2, max_pages=10)
    stats = await crawler.crawl()
    assert sum(counting.hits.values()) == 10
    assert stats.pages == 10 and len(list(crawler.items)) == 10
    assert stats.stop_reason == "max_pages=10 reached"


async def test_a_bad_selector_in_a_process_ends_the_crawl(site: tuple[CountingSite, str]) -> None:
    _, base = site
    crawler = Crawler(retries=0, processes=2)

    @crawler.start(f"{base}/page/0")
    async def page(resp: Response) -> AsyncIterator[Request]:
        for link in resp.css("div[["):  # the user's mistake, in every process
            yield resp.follow(link.attrs["href"] or "", page)

    with pytest.raises(InvalidSelector, match="bad CSS selector"):
        await crawler.crawl()


async def test_a_teapot_blocks_its_host_for_every_process(
        site: tuple[CountingSite, str]) -> None:
    counting, base = site
    crawler = Crawler(retries=0, processes=2, concurrency=2, per_host=1)

    @crawler.handler
    async def teapot(resp: Response) -> AsyncIterator[dict[str, Any]]:
        yield {"url": resp.url}

    crawler.add_start(*(Request(f"{base}/teapot/{n}", "teapot") for n in range(6)))
    stats = await crawler.crawl()
    # One at a time (per_host=1): the first 418 blocks the host; the rest fail unfetched.
    assert counting.hits["teapot"] == 1
    assert stats.error_kinds == Counter({"blocked": 6})
    assert sum("earlier" in error.message for error in stats.errors) == 5


async def test_retries_count_across_processes(
        site: tuple[CountingSite, str], tmp_path: Path) -> None:
    counting, base = site
    # A retry goes back to the parent's frontier with the attempt the process counted,
    # so it may be leased by the other process and still gives up after `retries`.
    crawler = Crawler(retries=2, backoff_base=0.01, backoff_max=0.02, concurrency=4,
                      processes=2)

    @crawler.handler
    async def page(resp: Response) -> AsyncIterator[dict[str, Any]]:
        yield {"url": resp.url}

    crawler.add_start(*(Request(f"{base}/{kind}/{n}", "page")
                        for kind in ("broken", "flaky") for n in range(3)))
    stats = await crawler.crawl(db=tmp_path / "crawl.db")
    assert counting.hits == Counter({**{f"/broken/{n}": 3 for n in range(3)},
                                     **{f"/flaky/{n}": 2 for n in range(3)}})
    assert sorted(item["url"] for item in crawler.items) == [f"{base}/flaky/{n}"
                                                             for n in range(3)]
    assert (stats.retries, stats.failed, stats.pages) == (6 + 3, 3, 3)
    assert stats.error_kinds == Counter({"http_500": 3})


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "killed"


async def test_a_process_killed_mid_crawl_gives_its_pages_back(
        site: tuple[CountingSite, str], tmp_path: Path, marker: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    counting, base = site
    db = tmp_path / "crawl.db"
    crawler = Crawler(retries=0, concurrency=8, processes=2)

    @crawler.start(f"{base}/page/0")
    async def page(resp: Response) -> AsyncIterator[Request | dict[str, Any]]:
        if resp.url.endswith("/page/5"):
            try:  # the first process to parse page 5 is killed, by its PID
                marker.open("x").close()
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        yield {"url": resp.url}
        for link in resp.css("a"):
            yield resp.follow(link.attrs["href"] or "", page)

    stats = await crawler.crawl(db=db)
    assert "killed by SIGKILL" in caplog.text
    # The other process took over what the dead one held: nothing is lost.
    expected = sorted(f"{base}/page/{n}" for n in range(PAGES))
    assert sorted(item["url"] for item in crawler.items) == expected
    assert counting.hits["/page/5"] == 2  # fetched again after the kill
    # Pages the dead process had fetched but not committed are fetched again; its
    # counts not yet reported died with it. No page is an error for it.
    assert stats.error_count == 0
    # Resuming finds the crawl complete.
    again = await crawler.crawl(db=db)
    assert again.requests == 0
    assert sorted(item["url"] for item in crawler.items) == expected


async def test_events_and_summary_with_processes(
        site: tuple[CountingSite, str], tmp_path: Path) -> None:
    _, base = site
    events = tmp_path / "events.jsonl"
    crawler = page_crawler(base, concurrency=8, processes=2)
    await crawler.crawl(db=tmp_path / "crawl.db", log_json=events)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    pages = [line for line in lines if line["event"] == "page"]
    assert sorted(p["url"] for p in pages) == sorted(f"{base}/page/{n}" for n in range(PAGES))
    assert all(p["status"] == 200 and p["items"] == 1 for p in pages)
    assert sum(p["links"] for p in pages) == PAGES - 1
    [finish] = [line for line in lines if line["event"] == "finish"]
    assert finish["pages"] == PAGES


async def test_an_item_that_cannot_travel_is_a_one_line_error(
        site: tuple[CountingSite, str]) -> None:
    _, base = site
    crawler = Crawler(retries=0, processes=2)

    @crawler.start(f"{base}/page/0")
    async def page(resp: Response) -> AsyncIterator[dict[str, Any]]:
        yield {"url": resp.url, "later": lambda: None}

    with pytest.raises(StorageError, match="picklable"):
        await crawler.crawl()
