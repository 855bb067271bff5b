"""A Redis outage of 5 s: stop the server by PID (AOF on), restart it, nothing is lost."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from conftest import RedisServer

from corocrawl import Request
from corocrawl.frontier import Outcome
from corocrawl.redis import RedisFrontier, RedisSink
from corocrawl.redis._link import CrawlKeys, RedisLink
from corocrawl.redis._sink import iter_items

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

    async def work() -> None:
        # A small crawl: page n discovers n*2+1 and n*2+2, up to PAGES pages.
        while await frontier.has_pending():
            request = await frontier.lease(0.05)
            if request is None:
                continue
            n = int(request.url.rsplit("/", 1)[1])
            await asyncio.sleep(0.005)  # "fetching"
            children = [Request(f"http://127.0.0.1:9/{k}") for k in (2 * n + 1, 2 * n + 2) if k < PAGES]
            await sink.write([(str(n), {"n": n})])
            await frontier.settle([Outcome(request, "done", children=children)])
            settled.append(request.url)

    try:
        async with asyncio.timeout(60), asyncio.TaskGroup() as group:
            for _ in range(8):
                group.create_task(work())
            while len(settled) < PAGES // 4:
                await asyncio.sleep(0.01)
            own_redis_server.stop()
            stopped_at = time.monotonic()
            await asyncio.sleep(5)
            own_redis_server.start()
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
