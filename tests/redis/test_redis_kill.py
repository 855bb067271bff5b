"""Three worker processes share one crawl; one is SIGKILLed mid-crawl; nothing is lost.

The site counts every fetch and the most requests it served at once, so the
test checks: the item set equals a clean single-process run's exactly; every
page was fetched; re-fetches are at most the killed worker's leases; the
per-host cap held across the workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from redis_site import ReplicaSite
from redis_spider import build

from corocrawl.redis import collect_into
from corocrawl.redis._link import CrawlKeys
from corocrawl.sinks import MemorySink

HERE = Path(__file__).parent
SRC = HERE.parent.parent / "src"
PER_HOST = 6


async def test_sigkill_one_of_three_workers_loses_nothing(redis_url: str) -> None:
    site = ReplicaSite(lists=100, per_list=29, latency=0.01)  # 3,000 pages
    server = TestServer(site.app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    procs: list[asyncio.subprocess.Process] = []
    client = aioredis.from_url(redis_url)
    try:
        clean = build(base, concurrency=32, per_host=32)
        async with asyncio.timeout(30):
            await clean.crawl()
        expected = {item["subject_id"]: item for item in clean.items}
        assert len(expected) == 2900 and len(site.hits) == site.pages
        site.reset()

        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE)])}
        for i in range(3):
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, str(HERE / "redis_spider.py"), base,
                    "--redis", redis_url, "--crawl-name", "kill", "--worker-id", f"w{i}",
                    "--lease-seconds", "3", "--per-host", str(PER_HOST),
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
                )
            )  # fmt: skip
        keys = CrawlKeys("kill")
        async with asyncio.timeout(30):
            # Another process's progress: nothing to wait on but its counter.
            while int(await client.hget(keys.stats, "done") or 0) < 1000:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        victim = procs[0]
        os.kill(victim.pid, signal.SIGKILL)
        await victim.wait()
        owners = await client.hvals(keys.owner)
        killed_leases = sum(1 for owner in owners if owner == b"w0")
        async with asyncio.timeout(60):
            outputs = [await p.communicate() for p in procs[1:]]
        for proc, (out, err) in zip(procs[1:], outputs, strict=True):
            assert proc.returncode == 0, err.decode()
            assert json.loads(out.decode().splitlines()[-1])["errors"] == 0

        sink = MemorySink()
        assert await collect_into(redis_url, "kill", [sink]) == 2900
        assert sink.items == expected
        assert len(site.hits) == site.pages  # every page fetched at least once
        refetched = sum(n - 1 for n in site.hits.values())
        assert refetched <= killed_leases, (refetched, killed_leases)
        assert max(site.max_active.values()) <= PER_HOST
        stats = await client.hgetall(keys.stats)
        assert int(stats[b"done"]) == site.pages
        assert int(stats.get(b"reclaimed", 0)) == killed_leases
        print(f"killed worker held {killed_leases} leases; {refetched} pages re-fetched; "
              f"max concurrent per host {max(site.max_active.values())}")  # fmt: skip
    finally:
        for proc in procs:
            if proc.returncode is None:
                os.kill(proc.pid, signal.SIGKILL)
                await proc.wait()
        await client.aclose()
        await server.close()
