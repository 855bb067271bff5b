"""robots.txt as scheduled work: once per host, in parallel, a host's pages wait for it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web

from corocrawl.spiders.generic import GenericOptions

from .conftest import FAST, run_crawl

SLOW_ROBOTS = 0.3  # under FAST's 0.5 s timeout: robots.txt goes through the page fetcher


@dataclass
class Hit:
    port: int
    path: str
    start: float
    end: float = 0.0


@asynccontextmanager
async def many_hosts(count: int) -> AsyncIterator[tuple[list[int], list[Hit]]]:
    """``count`` hosts (ports of 127.0.0.1); the first one's robots.txt is slow."""
    hits: list[Hit] = []
    ports: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        port = request.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        hit = Hit(port, request.path, time.monotonic())
        hits.append(hit)
        if request.path == "/robots.txt":
            if port == ports[0]:
                await asyncio.sleep(SLOW_ROBOTS)
            body, ctype = "User-agent: *\nDisallow: /private\n", "text/plain"
        else:
            links = "".join(f'<a href="http://127.0.0.1:{p}/page">x</a>' for p in ports)
            links += '<a href="/private">no</a><a href="/page">p</a>'
            body, ctype = f"<html><title>t</title>{links}</html>", "text/html"
        hit.end = time.monotonic()
        return web.Response(text=body, content_type=ctype)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        for _ in range(count):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        yield ports, hits
    finally:
        await runner.cleanup()


async def test_robots_once_per_host_in_parallel_and_pages_wait_for_it(tmp_path: Path) -> None:
    async with many_hosts(6) as (ports, hits):
        seed = f"http://127.0.0.1:{ports[1]}/"
        result = await run_crawl(
            GenericOptions([seed], allow_domains=["127.0.0.1"], adaptive=False),
            tmp_path / "crawl.db", replace(FAST, concurrency=8, per_host=2),
        )
    robots = {hit.port: hit for hit in hits if hit.path == "/robots.txt"}
    assert Counter(hit.port for hit in hits if hit.path == "/robots.txt") == Counter(ports)
    assert result.robots_fetches == len(ports)
    assert not [hit for hit in hits if hit.path == "/private"], "\n".join(map(str, [ports, *hits]))
    assert result.stats.dropped["robots"] >= 1
    for hit in hits:
        if hit.path != "/robots.txt":  # every page of a host after its robots.txt
            assert hit.start >= robots[hit.port].end, hit
    # The slow robots.txt held only its own host: the others were crawled meanwhile.
    slow_end = robots[ports[0]].end
    others_done = [hit for hit in hits if hit.port != ports[0] and hit.path == "/page"
                   and hit.end < slow_end]
    assert len(others_done) == len(ports) - 1
    # robots.txt fetches of the other hosts overlapped (not one host at a time).
    other_robots = sorted((robots[port] for port in ports[1:]), key=lambda hit: hit.start)
    assert other_robots[-1].start - other_robots[1].start < SLOW_ROBOTS
