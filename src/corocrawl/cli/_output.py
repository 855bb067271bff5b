"""What the crawling commands print: progress while running, tables at the end."""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .._config import CrawlConfig
from .._crawler import Crawler
from .._politeness import HostPolicy
from .._posters import PosterReport, PosterResult, download_posters
from .._progress import (
    CrawlProgress,
    EventLog,
    Mode,
    ObservedFrontier,
    ProgressSnapshot,
    stats_snapshot,
    summary_from_stats,
)
from .._progress import print_summary as summary_print
from .._running import loop_factory
from .._stats import CrawlStats
from ..frontier import FrontierCounts, MemoryFrontier

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def run_crawler(crawler: Crawler, *, quiet: bool, log_json: str | None = None) -> CrawlStats:
    """Run ``crawler`` to the end with live progress (Ctrl-C stops gracefully).

    Progress goes to stderr: a live line on a terminal, a plain line every 2 s
    otherwise, nothing when ``quiet``. ``log_json`` writes JSON-lines events.
    """
    events = EventLog(log_json) if log_json else None
    try:
        if events is not None:
            crawler.frontier = ObservedFrontier(crawler.frontier or MemoryFrontier(), events)
            events.start(
                start_urls=[r.url for r in crawler.start_requests],
                config=dataclasses.asdict(crawler.config),
            )
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            stats = runner.run(_crawl_with_progress(crawler, quiet=quiet))
        if events is not None:
            events.finish(summary_from_stats(stats))
        return stats
    finally:
        if events is not None:
            events.close()


async def _crawl_with_progress(crawler: Crawler, *, quiet: bool) -> CrawlStats:
    frontier = crawler.frontier
    running = True
    last_counts: list[FrontierCounts | None] = [None]

    async def snapshot() -> ProgressSnapshot:
        stats = crawler.stats  # crawl() replaces it when it starts: read it each time
        # The frontier is open only while the engine runs and has fetched something;
        # after that, the last counts read stand.
        if running and frontier is not None and stats.requests > 0:
            last_counts[0] = await frontier.counts()
        return stats_snapshot(stats, last_counts[0])

    progress = CrawlProgress(snapshot, mode="quiet" if quiet else "auto", console=err_console)
    async with progress:
        try:
            # The crawler's own signal handling: the first Ctrl-C stops gracefully.
            return await crawler.crawl(handle_signals=True)
        finally:
            running = False


def download_all_posters(
    items: Sequence[dict[str, Any]],
    dest: str,
    config: CrawlConfig,
    host_policy: HostPolicy | None,
    *,
    quiet: bool = False,
) -> PosterReport:
    """Download the items' posters into ``dest`` under the crawl's politeness settings.

    Shows progress like the crawl's: posters from douban's own image hosts come
    one at a time, ~2 s apart, so a live run takes a while.
    """
    done = {"ok": 0, "failed": 0}
    started = time.monotonic()
    total = len(items)

    def count(result: PosterResult) -> None:
        done["failed" if result.status == "failed" else "ok"] += 1

    def snapshot() -> ProgressSnapshot:
        return ProgressSnapshot(
            pages=done["ok"], in_flight=0, items=done["ok"], errors=done["failed"], retries=0,
            elapsed=time.monotonic() - started, total=total, failed=done["failed"],
            queued=total - done["ok"] - done["failed"],
        )

    async def run() -> PosterReport:
        mode: Mode = "quiet" if quiet else "auto"
        async with CrawlProgress(snapshot, mode=mode, console=err_console, description="posters"):
            return await download_posters(
                items,
                dest,
                concurrency=config.concurrency,
                per_host=config.per_host,
                delay=config.delay,
                host_policy=host_policy,
                user_agent=config.user_agent,
                extra_headers=config.headers,
                proxy=config.proxy,
                max_bytes=config.max_body,
                on_result=count,
            )

    return asyncio.run(run())


def print_posters(report: PosterReport, dest: str, *, quiet: bool) -> None:
    """One line of poster figures, and the first failures."""
    if quiet:
        return
    err_console.print(
        f"posters in {dest}: {report.count('downloaded')} downloaded, "
        f"{report.count('exists')} already there, {report.count('failed')} failed, "
        f"{report.count('skipped')} without a URL"
    )
    for failure in report.failures[:5]:
        err_console.print(f"  [red]poster[/red] {failure.url}: {failure.error}")


def _wants(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "—"


#: The movie table shows at most this many rows: past it, the exports are the place.
TABLE_ROWS = 100


def print_movies(items: Iterable[dict[str, Any]], *, total: int) -> None:
    """The douban items as a table, in release order (the first ``TABLE_ROWS``)."""
    title = f"{total} upcoming movies"
    if total > TABLE_ROWS:
        title += f", the first {TABLE_ROWS} by release date"
    table = Table(title=title, title_justify="left")
    for column in ("name", "date", "genre", "region", "想看", "poster"):
        table.add_column(column, overflow="fold")
    ordered = heapq.nsmallest(
        TABLE_ROWS, items, key=lambda i: (i.get("release_date") or "9999", i.get("name") or "")
    )
    for item in ordered:
        table.add_row(
            item.get("name") or "",
            item.get("date") or "",
            item.get("genre") or "—",
            item.get("region") or "—",
            _wants(item.get("wants")),
            item.get("poster_url") or "[red]none[/red]",
        )
    console.print(table)


def print_summary(
    stats: CrawlStats,
    *,
    exports: Sequence[Path] = (),
    db: Path | None = None,
    items: int | None = None,
) -> None:
    """The end-of-crawl tables (status, errors by kind, slowest hosts) and where data went."""
    summary_print(summary_from_stats(stats, items=items), console)
    where = [str(db)] if db else []
    where += [str(p) for p in exports]
    if where:
        console.print("saved to " + ", ".join(where))
