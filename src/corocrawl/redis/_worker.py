"""Running a spider as one worker of a shared Redis crawl.

``run_shared(crawler, RedisOptions(url))`` is ``crawler.run()`` with the
frontier (and with it the per-host politeness) and the items in Redis. Any number of
processes on any number of machines may run it with the same URL and crawl
name; each exits when the SHARED crawl has nothing pending or leased.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .._crawler import Crawler
from .._exceptions import StoreLocked
from .._running import graceful_signals, loop_factory
from .._stats import CrawlStats
from ..sinks._base import ItemSink, KeyedItem
from ._frontier import RedisFrontier, new_worker_id
from ._link import DEFAULT_CRAWL_NAME, require_redis
from ._sink import RedisSink
from ._status import SnapshotFileSink, SqliteUpsertSink, collect_into

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """How a worker joins a shared crawl (the ``--redis`` family of flags)."""

    url: str
    crawl_name: str = DEFAULT_CRAWL_NAME
    lease_seconds: float = 30.0
    expected_urls: int = 1_000_000
    prefetch: int = 8
    worker_id: str | None = None
    collect_db: Path | None = None
    collect_out: Path | None = None


async def crawl_shared(crawler: Crawler, options: RedisOptions) -> CrawlStats:
    """Run ``crawler`` as one worker of the shared crawl; return this worker's stats."""
    worker_id = options.worker_id or new_worker_id()
    frontier = RedisFrontier(
        options.url,
        options.crawl_name,
        lease_seconds=options.lease_seconds,
        expected_urls=options.expected_urls,
        prefetch=options.prefetch,
        worker_id=worker_id,
    )
    crawler.frontier = frontier
    crawler.sinks = [RedisSink(options.url, options.crawl_name)]
    # The bare engine: progress, summary and events are the caller's
    # (Crawler.crawl(redis=...) wraps this call in them).
    stats = await crawler._crawl_bare()
    if options.collect_db or options.collect_out:
        outputs = [options.collect_out] if options.collect_out else []
        await collect(options.url, options.crawl_name, db=options.collect_db, outputs=outputs)
    return stats


async def collect(
    url: str, crawl_name: str, *, db: Path | None = None, outputs: Sequence[Path] = ()
) -> int:
    """Upsert the shared crawl's items into ``db`` (SQLite) and each of ``outputs``
    (.jsonl, .json or .csv, by extension)."""
    sinks: list[ItemSink] = []
    if db is not None:
        sinks.append(_WaitForLock(sqlite_sink(db)))
    sinks.extend(SnapshotFileSink(output) for output in outputs)
    return await collect_into(url, crawl_name, sinks)


def sqlite_sink(db: Path) -> ItemSink:
    """The item sink of the crawl store ``db`` (``corocrawl.store``).

    So the store's own commands (status, export) read collected items; a plain
    ``items(key, item)`` table where the store module is not available.
    """
    try:
        store_module = importlib.import_module("corocrawl.store")
    except ImportError:
        return SqliteUpsertSink(db)
    sink: ItemSink = store_module.SqliteStore(db).sink
    return sink


class _WaitForLock:
    """Open ``sink``, waiting while another process holds the database.

    Two collects into one file then take turns and leave the same rows.
    """

    def __init__(self, sink: ItemSink, patience: float = 120.0) -> None:
        self._sink = sink
        self._patience = patience

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._patience
        while True:
            try:
                await self._sink.open()
                return
            except StoreLocked:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def write(self, items: Sequence[KeyedItem]) -> None:
        await self._sink.write(items)

    async def close(self) -> None:
        await self._sink.close()


def run_shared(crawler: Crawler, options: RedisOptions) -> CrawlStats:
    """``crawler.run()`` for a shared crawl.

    The first Ctrl-C/SIGTERM stops gracefully (unsettled leases go back at
    once), a second one at once (the leases then expire after lease_seconds).
    """
    require_redis()

    async def main() -> CrawlStats:
        with graceful_signals(crawler.stop):
            return await crawl_shared(crawler, options)

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main())
