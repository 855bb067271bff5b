"""``crawler.crawl(redis=...)``: a Python script as one worker of a shared crawl."""

from __future__ import annotations

import asyncio
import dataclasses

from docs_site import docs_crawler


async def test_two_redis_workers_items_stream_from_redis(
    docs_site: str, redis_url: str
) -> None:
    first, second = docs_crawler(docs_site, "dict"), docs_crawler(docs_site, "dict")
    await asyncio.gather(
        first.crawl(redis=redis_url, crawl_name="docs", progress=False),
        second.crawl(redis=redis_url, crawl_name="docs", progress=False),
    )
    assert first.stats.pages + second.stats.pages == 11
    assert sorted(i["title"] for i in first.items) == sorted(f"Page {i}" for i in range(10))
    assert first.items == second.items




async def test_a_worker_with_two_processes_shares_the_crawl(
    docs_site: str, redis_url: str
) -> None:
    # processes=2 under one worker: its two crawl processes lease through it.
    crawler = docs_crawler(docs_site, "dict")
    crawler.config = dataclasses.replace(crawler.config, processes=2)
    stats = await crawler.crawl(redis=redis_url, crawl_name="docs-2", progress=False)
    assert stats.pages == 11 and stats.items == 10
    assert sorted(i["title"] for i in crawler.items) == sorted(f"Page {i}" for i in range(10))
