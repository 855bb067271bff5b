"""Fixtures of the hostile-server tests: the server, a generic-crawl runner, a loop-lag probe."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from corocrawl import CrawlConfig, Timeouts
from corocrawl.spiders._pagestore import read_pages
from corocrawl.spiders.generic import CrawlResult, GenericCrawl, GenericOptions
from corocrawl.store import SqliteStore

from .server import MIB, HostileServer

#: Small limits, far from the attacks' sizes: a 1 MiB body cap, quick timeouts,
#: and retries with a tiny backoff so "retried or not" shows in the hit counts.
HOSTILE = CrawlConfig(
    timeouts=Timeouts(connect=2.0, read=1.0, total=5.0),
    max_body=MIB,
    retries=2,
    backoff_base=0.01,
    backoff_max=0.02,
)


class Pages(dict[str, dict[str, Any]]):
    """Page records by requested path; looked up by %-decoded path (the crawler re-encodes)."""

    def __getitem__(self, path: str) -> dict[str, Any]:
        return super().__getitem__(unquote(path))


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


async def crawl(
    server: HostileServer, start: str, db: Path, *, config: CrawlConfig = HOSTILE, **options: Any
) -> tuple[CrawlResult, Pages]:
    """A generic crawl from ``start`` (a path), resumable in ``db`` as ``corocrawl crawl``
    runs it; its result and page records by path."""
    store = SqliteStore(db, item_key="requested_url")
    result = await GenericCrawl(
        GenericOptions([server.url(start)], adaptive=False, **options), config=config, db=db,
        frontier=store.frontier, sinks=[store.sink],
    ).crawl()
    base = server.url("")
    pages = Pages((unquote(str(p["requested_url"]).removeprefix(base)), p) for p in read_pages(db))
    return result, pages


@contextlib.asynccontextmanager
async def loop_lag() -> AsyncIterator[list[float]]:
    """Measure how late a 10 ms timer fires while the block runs; yields the lags (s)."""
    lags = [0.0]

    async def tick() -> None:
        while True:  # ends when cancelled on exit from the block
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    task = asyncio.create_task(tick())
    try:
        yield lags
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
