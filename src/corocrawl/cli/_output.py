"""What the crawling commands print: progress while running, tables at the end."""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import CrawlConfig
from .._crawler import Crawler
from .._politeness import HostPolicy
from .._progress import CrawlProgress, Mode, ProgressSnapshot, summary_from_stats
from .._progress import print_summary as summary_print
from .._run import RunOutput
from .._running import graceful_signals, loop_factory
from .._stats import CrawlStats
from ._settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    # Only types here: a crawl without --posters never downloads one.
    from .._posters import PosterReport, PosterResult

    # Only a type here: importing corocrawl.redis loads the Redis client (~150 ms),
    # which a crawl without --redis never uses.
    from ..redis import RedisOptions


class LazyConsole:
    """A rich ``Console`` made on first use.

    Importing rich costs ~80 ms of start-up, and a ``--quiet`` crawl prints nothing
    with it. The console looks up ``sys.stdout``/``sys.stderr`` when it prints, so
    making it late changes nothing.
    """

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.get().print(*objects, **options)


console = LazyConsole()
err_console = LazyConsole(stderr=True)


def run_crawler(
    crawler: Crawler,
    output: RunOutput,
    *,
    db: Path | None = None,
    redis: RedisOptions | None = None,
    fresh: bool = False,
) -> CrawlStats:
    """Run ``crawler`` to the end, in ``db`` or as a ``redis`` worker: every command's runner.

    The same path as ``crawler.run()``; the first Ctrl-C stops gracefully.
    ``output`` says what to show (progress on stderr, summary, events, warning).
    """

    async def crawl() -> CrawlStats:
        with graceful_signals(crawler.stop):
            return await crawler._crawl_into(db, redis=redis, fresh=fresh, output=output)

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(crawl())


def command_output(args: Settings, *, warn: bool = True) -> RunOutput:
    """What a crawling command shows: progress (a plain line when not a terminal) and
    the summary unless ``--quiet``; ``--log-json`` events."""
    quiet = bool(getattr(args, "quiet", False))
    return RunOutput(progress="quiet" if quiet else "auto", summary=not quiet,
                     log_json=getattr(args, "log_json", None), warn=warn,
                     summary_to_stdout=True)


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
    from .._posters import download_posters

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
        drawn_on = None if quiet else err_console.get()
        async with CrawlProgress(snapshot, mode=mode, console=drawn_on, description="posters"):
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
    from rich.table import Table

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


def print_saved(*, exports: Sequence[Path] = (), db: Path | None = None) -> None:
    """Where the crawl's data went (after the summary the runner printed)."""
    where = [str(db)] if db else []
    where += [str(p) for p in exports]
    if where:
        console.print("saved to " + ", ".join(where))


def print_summary(
    stats: CrawlStats,
    *,
    exports: Sequence[Path] = (),
    db: Path | None = None,
    items: int | None = None,
) -> None:
    """The end-of-crawl tables (status, errors by kind, slowest hosts) and where data went."""
    summary_print(summary_from_stats(stats, items=items), console.get())
    where = [str(db)] if db else []
    where += [str(p) for p in exports]
    if where:
        console.print("saved to " + ", ".join(where))
