"""The engine on the SQLite store: a crawl stopped early resumes where it stopped."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from corocrawl import Crawler, Request, Response
from corocrawl._exceptions import StorageError
from corocrawl._stats import PageEvent
from corocrawl.store import SqliteStore, StoreReader

PAGES = 60


class Tree:
    """Page n links to 2n+1 and 2n+2 (below PAGES); /flaky answers 503 twice first."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.app = web.Application()
        self.app.router.add_get("/p/{n}", self.page)
        self.app.router.add_get("/flaky", self.flaky)

    async def page(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        await asyncio.sleep(0.01)
        n = int(request.match_info["n"])
        links = "".join(f'<a href="/p/{k}">p{k}</a>' for k in (2 * n + 1, 2 * n + 2)
                        if k < PAGES)
        if n == 0:
            links += '<a href="/flaky">flaky</a>'
        return web.Response(text=f"<title>page {n}</title>{links}", content_type="text/html")

    async def flaky(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if self.hits[request.path] <= 2:
            return web.Response(status=503, headers={"Retry-After": "0"})
        return web.Response(text="<title>flaky</title>", content_type="text/html")


@pytest.fixture
async def site() -> AsyncIterator[tuple[Tree, str]]:
    tree = Tree()
    server = TestServer(tree.app, host="127.0.0.1")
    await server.start_server()
    try:
        yield tree, str(server.make_url("/p/0"))
    finally:
        await server.close()


def make_crawler(start: str, store: SqliteStore | None,
                 on_page: Callable[[], Awaitable[None]] | None = None,
                 **settings: Any) -> Crawler:
    kwargs: dict[str, Any] = {"concurrency": 8, "per_host": 8, "item_key": "path",
                              "backoff_base": 0.01, **settings}
    if store is not None:
        kwargs.update(frontier=store.frontier, sinks=[store.sink])
    crawler = Crawler(**kwargs)

    @crawler.start(start)
    async def page(resp: Response) -> AsyncIterator[Request | dict[str, Any]]:
        if on_page is not None:
            await on_page()
        title = resp.css_first("title")
        yield {"path": resp.url.split(":", 2)[2].split("/", 1)[1],
               "title": title.text() if title else None}
        for link in resp.css("a"):
            yield resp.follow(link.attrs["href"], page)

    return crawler


def stored_items(db: Path) -> dict[str, dict[str, Any]]:
    with StoreReader(db) as reader:
        return {item["path"]: item for item in reader.iter_items()}


async def test_a_crawl_on_the_store_equals_one_in_memory(site: tuple[Tree, str],
                                                          tmp_path: Path) -> None:
    tree, start = site
    memory = make_crawler(start, None)
    await memory.crawl()
    expected = {item["path"]: item for item in memory.items}
    assert len(expected) == PAGES + 1
    tree.hits.clear()

    db = tmp_path / "crawl.db"
    stats = await make_crawler(start, SqliteStore(db)).crawl()
    assert stats.pages == PAGES + 1 and stats.retries == 2
    assert stored_items(db) == expected
    assert all(n == 1 for path, n in tree.hits.items() if path != "/flaky")
    with StoreReader(db) as reader:
        assert reader.counts() == {"pending": 0, "in_flight": 0, "done": PAGES + 1, "failed": 0}


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_stopped_crawl_resumes_without_refetching(site: tuple[Tree, str],
                                                          tmp_path: Path, processes: int) -> None:
    tree, start = site
    db = tmp_path / "crawl.db"
    first = await make_crawler(start, SqliteStore(db), max_pages=20, processes=processes).crawl()
    assert 0 < first.pages < PAGES
    with StoreReader(db) as reader:
        counts = reader.counts()
    assert counts["pending"] > 0 and counts["in_flight"] == 0
    fetched_first = sum(tree.hits.values())

    second = await make_crawler(start, SqliteStore(db), processes=processes).crawl()
    assert len(stored_items(db)) == PAGES + 1
    # every page fetched exactly once over both runs (the flaky one: 2 retries)
    assert tree.hits["/flaky"] == 3
    assert all(n == 1 for path, n in tree.hits.items() if path != "/flaky")
    assert first.pages + second.pages == PAGES + 1
    assert sum(tree.hits.values()) > fetched_first

    # a third run has nothing left to do: nothing is fetched again
    before = sum(tree.hits.values())
    third = await make_crawler(start, SqliteStore(db)).crawl()
    assert third.pages == 0 and sum(tree.hits.values()) == before


async def test_fresh_starts_over(site: tuple[Tree, str], tmp_path: Path) -> None:
    tree, start = site
    db = tmp_path / "crawl.db"
    await make_crawler(start, SqliteStore(db)).crawl()
    again = await make_crawler(start, SqliteStore(db, fresh=True)).crawl()
    assert again.pages == PAGES + 1
    assert tree.hits["/p/0"] == 2


async def test_storage_failing_mid_crawl_stops_with_one_error_and_resumes(
        site: tuple[Tree, str], tmp_path: Path) -> None:
    """Every write failing (SQLite refuses them: query_only) ends the crawl with the
    store's one-line error, not a traceback group; the file stays resumable."""
    _, start = site
    db = tmp_path / "crawl.db"
    store = SqliteStore(db, prefetch=1)  # every lease queries: the lease path fails too
    pages = 0

    def refuse_writes(conn: Any, deltas: list[int]) -> None:
        conn.execute("PRAGMA query_only = 1")

    async def break_after_five() -> None:
        nonlocal pages
        pages += 1
        if pages == 5:
            await store.writer.run(refuse_writes)

    crawler = make_crawler(start, store, break_after_five, concurrency=4, per_host=4)
    with pytest.raises(StorageError) as info:
        await crawler.crawl()
    assert "\n" not in str(info.value) and str(db) in str(info.value)
    # the file is intact, and the next run finishes the crawl
    stats = await make_crawler(start, SqliteStore(db)).crawl()
    assert stats.pages > 0
    with StoreReader(db) as reader:
        assert reader.counts()["done"] == PAGES + 1


async def test_storage_failing_under_processes_stops_with_one_error_and_resumes(
        site: tuple[Tree, str], tmp_path: Path) -> None:
    """With processes=2 the main process writes: its store refusing writes mid-crawl
    ends the crawl of both processes with the store's one-line error."""
    _, start = site
    db = tmp_path / "crawl.db"
    store = SqliteStore(db, prefetch=1)
    crawler = make_crawler(start, store, concurrency=4, per_host=4, processes=2)
    breaking: list[asyncio.Future[None]] = []

    def refuse_writes(conn: Any, deltas: list[int]) -> None:
        conn.execute("PRAGMA query_only = 1")

    def break_after_five(event: PageEvent) -> None:  # a page hook: runs in the main process
        if crawler.stats.pages >= 5 and not breaking:
            breaking.append(asyncio.ensure_future(store.writer.run(refuse_writes)))

    crawler.page_hooks.append(break_after_five)
    with pytest.raises(StorageError) as info:
        await crawler.crawl()
    assert breaking and breaking[0].done()
    assert "\n" not in str(info.value) and str(db) in str(info.value)
    stats = await make_crawler(start, SqliteStore(db), processes=2).crawl()
    assert stats.pages > 0
    with StoreReader(db) as reader:
        assert reader.counts()["done"] == PAGES + 1
