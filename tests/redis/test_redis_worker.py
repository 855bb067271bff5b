"""Workers of a shared crawl in one process, the --redis flags, and --collect."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from aiohttp.test_utils import TestServer
from redis_site import ReplicaSite
from redis_spider import build

from corocrawl.cli import _redis_options
from corocrawl.cli._redis_options import add_redis_arguments, redis_options_from_args
from corocrawl.redis import DEFAULT_CRAWL_NAME, RedisOptions, crawl_shared, redis_status_async


def test_the_cli_default_crawl_name_is_the_packages() -> None:
    assert _redis_options.DEFAULT_CRAWL_NAME == DEFAULT_CRAWL_NAME


def test_redis_flags() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db")
    parser.add_argument("-o", "--output", action="append", default=[])
    add_redis_arguments(parser)
    assert redis_options_from_args(parser.parse_args([])) is None
    args = parser.parse_args(
        ["--redis", "redis://h:6379/1", "--crawl-name", "x", "--lease-seconds", "9", "--collect",
         "--db", "out.db", "-o", "a.jsonl"]
    )  # fmt: skip
    options = redis_options_from_args(args)
    assert options == RedisOptions(
        "redis://h:6379/1", "x", lease_seconds=9.0, collect_db=Path("out.db"), collect_out=None
    )


async def test_two_workers_in_one_process_share_the_crawl(redis_url: str, tmp_path: Path) -> None:
    site = ReplicaSite(lists=10, per_list=19, latency=0.005)
    server = TestServer(site.app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        clean = build(base, concurrency=16)
        await clean.crawl()
        expected = sorted(clean.items, key=lambda item: item["subject_id"])
        site.reset()
        out = tmp_path / "items.jsonl"
        a = build(base, concurrency=4, per_host=3)
        b = build(base, concurrency=4, per_host=3)
        async with asyncio.timeout(30):
            stats = await asyncio.gather(
                crawl_shared(a, RedisOptions(redis_url, "pair", collect_out=out)),
                crawl_shared(b, RedisOptions(redis_url, "pair")),
            )
        assert sum(s.pages for s in stats) == site.pages == len(site.hits)
        assert all(s.pages > 0 for s in stats)
        assert max(site.max_active.values()) <= 3
        status = await redis_status_async(redis_url, "pair")
        assert status["finished"] and status["done"] == site.pages and status["workers"] == []
    finally:
        await server.close()
    collected = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert collected == expected or len(collected) <= len(
        expected
    )  # a's collect may precede b's end
    assert {item["subject_id"] for item in collected} == {item["subject_id"] for item in expected}
