"""Fixtures of the generic-crawl tests: the trap site on 127.0.0.1, and fast settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from corocrawl import CrawlConfig, Timeouts
from corocrawl.spiders.generic import CrawlResult, GenericCrawl, GenericOptions

from .site import TrapSite

#: Small limits keep the suite fast: a 0.5 s timeout (the slow page takes 1.5 s),
#: a 1 MiB body cap (the big page is 20 MB) and no retries of 5xx/timeouts.
FAST = CrawlConfig(
    timeouts=Timeouts(connect=2.0, read=0.5, total=0.5),
    max_body=1024 * 1024,
    retries=0,
)


@pytest.fixture
async def site() -> AsyncIterator[TrapSite]:
    trap = TrapSite()
    await trap.start()
    try:
        yield trap
    finally:
        await trap.stop()


async def run_crawl(
    options: GenericOptions, db: Path | None = None, config: CrawlConfig = FAST
) -> CrawlResult:
    """Run a generic crawl to the end with the test settings."""
    return await GenericCrawl(options, config=config, db=db).crawl()


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1; yield its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
