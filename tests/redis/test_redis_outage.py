"""A Redis outage of 5 s: stop the server by PID (AOF on), restart it, nothing is lost."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiohttp.test_utils import TestServer
from redis_site import ReplicaSite
from redis_spider import build

from corocrawl import Request
from corocrawl.frontier import Outcome
from corocrawl.redis import RedisFrontier, RedisOptions, RedisSink, collect_into, crawl_shared
from corocrawl.redis._link import CrawlKeys, RedisLink
from corocrawl.redis._sink import iter_items
from corocrawl.sinks import MemorySink
from redis_server import RedisServer

PAGES = 400


async def test_frontier_and_sink_ride_out_a_5s_outage(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="corocrawl.redis")
    url = own_redis_server.url
    frontier = RedisFrontier(url, "outage", lease_seconds=3, prefetch=2)
    sink = RedisSink(url, "outage")
    await frontier.open()
    await sink.open()
    await frontier.add([Request("http://127.0.0.1:9/0")])
    settled: list[str] = []
    quarter_done = asyncio.Event()

    async def work() -> None:
        # A small crawl: page n discovers n*2+1 and n*2+2, up to PAGES pages.
        while await frontier.has_pending():
            request = await frontier.lease(0.05)
            if request is None:
                continue
            n = int(request.request.url.rsplit("/", 1)[1])
            await asyncio.sleep(0.005)  # "fetching"
            children = [
                Request(f"http://127.0.0.1:9/{k}") for k in (2 * n + 1, 2 * n + 2) if k < PAGES
            ]
            await sink.write([(str(n), {"n": n})])
            await frontier.settle([Outcome(request, "done", children=children)])
            settled.append(request.request.url)
            if len(settled) >= PAGES // 4:
                quarter_done.set()

    try:
        async with asyncio.timeout(60), asyncio.TaskGroup() as group:
            for _ in range(8):
                group.create_task(work())
            await quarter_done.wait()
            await asyncio.to_thread(own_redis_server.stop)
            stopped_at = time.monotonic()
            await asyncio.sleep(5)
            await asyncio.to_thread(own_redis_server.start)
            assert time.monotonic() - stopped_at >= 5
    finally:
        await sink.close()
        await frontier.close()
    link = RedisLink.connect(url)
    try:
        items = {key async for key, _ in iter_items(link, CrawlKeys("outage"))}
        done = int(await link.client.hget(CrawlKeys("outage").stats, "done"))
    finally:
        await link.close()
    assert items == {str(n) for n in range(PAGES)}
    assert done == PAGES
    outage_lines = [r for r in caplog.records if "unreachable" in r.getMessage()]
    back_lines = [r for r in caplog.records if "is back after" in r.getMessage()]
    assert len(outage_lines) == 1, [r.getMessage() for r in outage_lines]
    assert len(back_lines) == 1


async def test_engine_crawl_completes_through_a_5s_outage(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The real engine, three-level douban-shaped site, Redis down for 5 s mid-crawl."""
    caplog.set_level(logging.WARNING, logger="corocrawl.redis")
    site = ReplicaSite(lists=30, per_list=19, latency=0.005)  # 600 pages
    server = TestServer(site.app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        clean = build(base, concurrency=16)
        await clean.crawl()
        expected = {item["subject_id"]: item for item in clean.items}
        site.reset()
        crawler = build(base, concurrency=8, per_host=4)
        options = RedisOptions(own_redis_server.url, "engine-outage", lease_seconds=10)
        url = own_redis_server.url

        async def outage() -> None:
            await site.fetched(150)
            await asyncio.to_thread(own_redis_server.stop)
            await asyncio.sleep(5)
            await asyncio.to_thread(own_redis_server.start)

        async with asyncio.timeout(60), asyncio.TaskGroup() as group:
            group.create_task(outage())
            stats = await crawl_shared(crawler, options)
        assert stats.error_count == 0
        sink = MemorySink()
        await collect_into(url, "engine-outage", [sink])
        assert sink.items == expected
        assert len(site.hits) == site.pages
    finally:
        await server.close()
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1
