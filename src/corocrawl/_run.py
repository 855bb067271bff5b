"""What every run of a spider gets, from Python or from the CLI.

``Crawler.crawl()`` and the commands call ``observe_crawl``: live progress
while the engine runs, the end summary, ``--log-json`` events from the
engine's page hook, and a one-line warning when nothing succeeded, naming
the first error and what to do about it.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._exceptions import UsageError
from ._progress import CrawlProgress, EventLog, Mode, stats_snapshot, summary_from_stats
from ._progress import print_summary as _print_summary
from ._stats import CrawlStats, PageEvent
from .frontier import FrontierCounts

if TYPE_CHECKING:
    from rich.console import Console

    from ._crawler import Crawler

#: What a site wants before it serves a crawler that it refused as a bot.
BROWSER_HINT = (
    'send a browser User-Agent: Crawler(user_agent="Mozilla/5.0 ...") or --user-agent'
)


@dataclasses.dataclass(frozen=True, slots=True)
class RunOutput:
    """How a run shows itself. ``progress``: the live line's mode (see CrawlProgress).

    Progress and the warning go to stderr; the summary too, unless
    ``summary_to_stdout`` (the commands' report, beside their tables).
    """

    progress: Mode = "quiet"
    summary: bool = False
    log_json: str | None = None
    warn: bool = True
    summary_to_stdout: bool = False


def output_for(progress: bool | None, log_json: str | None) -> RunOutput:
    """The user-facing switch: None shows progress and summary only on a terminal."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)  # a replaced stderr may lack it
        progress = bool(isatty()) if callable(isatty) else False
    return RunOutput(progress="auto" if progress else "quiet", summary=progress,
                     log_json=log_json)


class PageEvents:
    """Writes the engine's page hook calls as ``page``/``retry``/``error`` events."""

    def __init__(self, events: EventLog) -> None:
        self.events = events

    def __call__(self, event: PageEvent) -> None:
        if event.state == "done":
            extra: dict[str, Any] = {"links": event.links, "items": event.items}
            if event.error:
                extra["callback_error"] = event.error
            self.events.page(event.url, event.status, event.seconds, **extra)
        elif event.state == "retry":
            delay = max(0.0, event.not_before - time.time())
            self.events.retry(event.url, event.attempt, delay, event.error or "")
        else:
            kind, _, message = (event.error or "unknown: ").partition(": ")
            self.events.error(event.url, kind, message)


async def observe_crawl(
    crawler: Crawler,
    crawl: Callable[[], Awaitable[CrawlStats]],
    output: RunOutput,
    *,
    items: Callable[[], int | None] = lambda: None,
) -> CrawlStats:
    """Run ``crawl()`` (the engine, in whatever store) with ``output``'s displays.

    ``items`` counts the distinct items stored, for the summary (None: yielded ones).
    """
    consoles: dict[str, Console] = {}

    def console(where: str) -> Console:
        # Made on first use: importing rich costs ~80 ms of start-up, and a quiet
        # run (no progress, no summary, no warning) never needs it.
        if where not in consoles:
            from rich.console import Console

            consoles[where] = Console(stderr=where == "stderr", highlight=False)
        return consoles[where]

    events = _open_events(output.log_json) if output.log_json else None
    hook = PageEvents(events) if events is not None else None
    last_counts: list[FrontierCounts | None] = [None]
    running = True

    async def snapshot() -> Any:
        stats = crawler.stats  # crawl() replaces it when it starts: read it each time
        frontier = crawler.frontier
        # The frontier is open only while the engine runs and has fetched something.
        if running and frontier is not None and stats.requests > 0:
            last_counts[0] = await frontier.counts()
        return stats_snapshot(stats, last_counts[0])

    try:
        if events is not None:
            events.start(start_urls=[r.url for r in crawler.start_requests],
                         config=dataclasses.asdict(crawler.config))
        if hook is not None:
            crawler.page_hooks.append(hook)
        drawn_on = None if output.progress == "quiet" else console("stderr")
        async with CrawlProgress(snapshot, mode=output.progress, console=drawn_on):
            try:
                stats = await crawl()
            finally:
                running = False
        summary = summary_from_stats(stats, items=items() if output.summary else None)
        if events is not None:
            events.finish(summary)
    finally:
        if hook is not None:
            crawler.page_hooks.remove(hook)
        if events is not None:
            events.close()
    if output.summary:
        _print_summary(summary, console("stdout" if output.summary_to_stdout else "stderr"))
    if output.warn and (warning := failure_warning(stats)) is not None:
        console("stderr").print(warning, markup=False, soft_wrap=True)
    return stats


def _open_events(path: str) -> EventLog:
    try:
        return EventLog(path)
    except OSError as exc:
        raise UsageError(f"log_json {path}: {exc.strerror}; pick a writable path") from None


def failure_warning(stats: CrawlStats) -> str | None:
    """One line when the crawl got nothing: the first error and what to do; else None."""
    if stats.pages > 0 and (stats.items > 0 or not stats.error_kinds.get("callback")):
        return None
    if not stats.errors:
        return None
    first = next((e for e in stats.errors if e.kind == "callback"), None)
    if stats.pages == 0 or first is None:
        first = stats.errors[0]
    if first.kind == "blocked" or "HTTP 418" in first.message or "HTTP 403" in first.message:
        advice = BROWSER_HINT
    elif first.kind in ("connect", "dns", "timeout", "disconnect"):
        advice = "check the URL and that the site is up"
    elif first.kind.startswith("http_4"):
        advice = "check the start URL"
    elif first.kind == "callback":
        advice = "fix the callback (crawler.stats.errors lists every failure)"
    else:
        advice = "crawler.stats.errors lists every failure"
    what = "nothing was fetched" if stats.pages == 0 else "no items: every callback failed"
    return (f"corocrawl: warning: {what}; first error on {first.url}: {first.kind}: "
            f"{first.message}; {advice}")
