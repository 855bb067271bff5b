"""Three ``corocrawl douban --redis`` workers share a crawl of the replica; one is SIGKILLed.

The replica (``corocrawl.demo``) counts every fetch per path and the most
requests it served at once per host, so the test checks what the issue asks:
the collected item set equals a clean single-process run's exactly, every
page was fetched, re-fetches are at most the killed worker's leases, and the
per-host cap held across the three processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from pathlib import Path

import redis.asyncio as aioredis

from corocrawl import CrawlConfig
from corocrawl.demo import DemoConfig, DemoServerThread
from corocrawl.redis import collect_into
from corocrawl.redis._link import CrawlKeys
from corocrawl.sinks import MemorySink
from corocrawl.spiders.douban import BROWSER_USER_AGENT, build_crawler

SRC = Path(__file__).resolve().parent.parent.parent / "src"
TODAY = dt.date(2026, 11, 27)
MOVIES = 2999  # + 1 list page = 3,000 pages
PER_HOST = 6


async def test_sigkill_one_of_three_douban_workers_loses_nothing(
    redis_url: str, tmp_path: Path
) -> None:
    config = DemoConfig(movies=MOVIES, latency=(0.005, 0.015), today=TODAY)
    client = aioredis.from_url(redis_url)
    procs: list[asyncio.subprocess.Process] = []
    with DemoServerThread(config) as replica:
        start = replica.url("/cinema/later/beijing/")
        try:
            clean = build_crawler(
                [start],
                config=CrawlConfig(user_agent=BROWSER_USER_AGENT, concurrency=32, per_host=32),
                today=TODAY,
            )
            async with asyncio.timeout(60):
                await clean.crawl()
            expected = {item["subject_id"]: item for item in clean.items}
            assert len(expected) == MOVIES
            replica.stats.reset()

            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
            }
            for i in range(3):
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "corocrawl", "douban", "--start-url", start,
                        "--redis", redis_url, "--crawl-name", "kill", "--lease-seconds", "3",
                        "--per-host", str(PER_HOST), "--concurrency", "8",
                        "--today", TODAY.isoformat(), "--db", str(tmp_path / f"w{i}.db"), "-q",
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                        env=env, cwd=tmp_path,
                    )
                )  # fmt: skip
            keys = CrawlKeys("kill")
            async with asyncio.timeout(60):
                # Another process's progress: nothing to wait on but its counter.
                while int(await client.hget(keys.stats, "done") or 0) < 1000:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            victim = procs[0]
            os.kill(victim.pid, signal.SIGKILL)
            await victim.wait()
            # Read right after the kill, before the leases expire (3 s).
            owners = await client.hgetall(keys.owner)
            workers = await client.hkeys(keys.workers)
            victim_ids = [w for w in workers if w.decode().split(":")[1] == str(victim.pid)]
            assert len(victim_ids) == 1
            killed_leases = sum(1 for owner in owners.values() if owner == victim_ids[0])
            async with asyncio.timeout(90):
                outputs = [await p.communicate() for p in procs[1:]]
            for proc, (_, err) in zip(procs[1:], outputs, strict=True):
                assert proc.returncode == 0, err.decode()

            sink = MemorySink()
            assert await collect_into(redis_url, "kill", [sink]) == MOVIES
            assert sink.items == expected
            fetches = replica.stats.fetches
            assert len(fetches) == MOVIES + 1  # every page fetched at least once
            refetched = sum(n - 1 for n in fetches.values())
            assert refetched <= killed_leases, (refetched, killed_leases)
            peak = max(replica.stats.max_in_flight_by_host.values())
            assert peak <= PER_HOST
            stats = await client.hgetall(keys.stats)
            assert int(stats[b"done"]) == MOVIES + 1
            assert int(stats.get(b"reclaimed", 0)) == killed_leases
            print(
                f"killed worker held {killed_leases} leases; {refetched} pages re-fetched; "
                f"max concurrent requests per host {peak} (cap {PER_HOST})"
            )
        finally:
            for proc in procs:
                if proc.returncode is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    await proc.wait()
            await client.aclose()
