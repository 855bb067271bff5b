"""What a person (or a machine) sees while a crawl runs and when it ends.

* :class:`CrawlProgress` polls a snapshot callable the engine provides and shows
  a rich live line on a terminal, a plain log line every ~2 s otherwise, and
  nothing when quiet.
* :func:`summary_renderable` / :func:`print_summary`: the end-of-crawl tables:
  pages by status, errors by kind with one example URL each, slowest hosts,
  wall time.
* :class:`EventLog`: ``--log-json FILE``, one JSON object per line
  (``start``, ``page``, ``error``, ``retry``, ``finish``).

Usage::

    async with CrawlProgress(lambda: snapshot_of(stats), mode="auto"):
        stats = await crawler.crawl()
    print_summary(summary_of(stats))
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import http
import inspect
import io
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal

import orjson

from ._stats import CrawlStats
from .frontier import FrontierCounts

if TYPE_CHECKING:
    # rich is imported where it is used: it costs ~80 ms of start-up, and a --quiet
    # crawl never draws anything with it.
    from rich.console import Console, RenderableType
    from rich.progress import Progress

logger = logging.getLogger(__name__)

Mode = Literal["auto", "rich", "plain", "quiet"]


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    """The counters progress displays need, read at one moment.

    ``queued`` is None when the frontier cannot say cheaply; ``total`` is the
    number of pages expected when known (then an ETA is shown).
    """

    pages: int
    in_flight: int
    items: int
    errors: int
    retries: int
    elapsed: float
    queued: int | None = None
    total: int | None = None
    failed: int = 0

    @property
    def settled(self) -> int:
        """Requests finished for good, fetched or failed: the bar's position."""
        return self.pages + self.failed


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    """What the end-of-crawl tables show.

    ``statuses``: HTTP status → responses. ``error_counts``: kind → count (all
    errors); ``errors``: recorded ``(url, kind, message)`` examples.
    ``hosts``: "host:port" → (requests, total seconds).
    """

    pages: int
    items: int
    retries: int
    wall_time: float
    statuses: Mapping[int, int] = field(default_factory=dict)
    error_counts: Mapping[str, int] = field(default_factory=dict)
    errors: Sequence[tuple[str, str, str]] = ()
    hosts: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    stop_reason: str | None = None

    @property
    def error_total(self) -> int:
        """All errors, recorded with an example or not."""
        return sum(self.error_counts.values())


# -- live progress ------------------------------------------------------------------------


class _Rate:
    """Pages per second over the last ``window`` seconds of samples."""

    def __init__(self, window: float = 5.0) -> None:
        self._window = window
        self._samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=512)

    def add(self, elapsed: float, pages: int) -> float:
        self._samples.append((elapsed, pages))
        while len(self._samples) > 2 and elapsed - self._samples[0][0] > self._window:
            self._samples.popleft()
        first_t, first_pages = self._samples[0]
        if elapsed - first_t < 0.5:  # too short to say: use the whole run
            return pages / elapsed if elapsed > 0 else 0.0
        return (pages - first_pages) / (elapsed - first_t)


def eta_seconds(snapshot: ProgressSnapshot, rate: float) -> float | None:
    """Seconds left at ``rate`` pages/s, when the total is known and we are moving."""
    if snapshot.total is None or rate <= 0:
        return None
    return max(0.0, (snapshot.total - snapshot.settled) / rate)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def plain_line(snapshot: ProgressSnapshot, rate: float) -> str:
    """One log line, e.g. ``[ 12.0s] done 340/1000 · pages 332 (28.3/s) · … · ETA 0:00:23``.

    ``done`` counts requests finished for good (pages and failures) against the
    total known so far; ``rate`` is in finished requests per second.
    """
    parts = [f"[{snapshot.elapsed:6.1f}s]"]
    if snapshot.total is not None:
        parts.append(f"done {snapshot.settled}/{snapshot.total} ·")
    parts.append(f"pages {snapshot.pages} ({rate:.1f}/s)")
    head = " ".join(parts)
    return " · ".join([head, *_counters(snapshot, rate)])


def compact_line(snapshot: ProgressSnapshot, rate: float) -> str:
    """The live line next to the bar: ``340/1000 28.3/s · queued 120 · … · ETA 0:00:23``."""
    done = (
        f"{snapshot.settled}/{snapshot.total}" if snapshot.total is not None
        else f"{snapshot.pages} pages"
    )
    return " · ".join([f"{done} {rate:.1f}/s", *_counters(snapshot, rate)])


def _counters(snapshot: ProgressSnapshot, rate: float) -> list[str]:
    """What both progress lines show after their head: queue, counts, and the ETA if known."""
    fields = [
        f"queued {snapshot.queued if snapshot.queued is not None else '?'}",
        f"in flight {snapshot.in_flight}",
        f"items {snapshot.items}",
        f"errors {snapshot.errors}",
        f"retries {snapshot.retries}",
    ]
    eta = eta_seconds(snapshot, rate)
    if eta is not None:
        fields.append(f"ETA {_clock(eta)}")
    return fields


class CrawlProgress:
    """Show a crawl's progress until the ``async with`` block ends.

    ``snapshot`` is called from the event loop every refresh (it may be a
    coroutine function, to ask an async frontier for counts); it must be cheap.
    ``mode="auto"`` picks rich on a terminal and plain lines otherwise.

        >>> async with CrawlProgress(lambda: stats_snapshot(crawler.stats)):
        ...     await crawler.crawl()
    """

    def __init__(
        self,
        snapshot: Callable[[], ProgressSnapshot | Awaitable[ProgressSnapshot]],
        *,
        mode: Mode = "auto",
        console: Console | None = None,
        stream: IO[str] | None = None,
        interval: float | None = None,
        description: str = "crawling",
    ) -> None:
        self._snapshot = snapshot
        self._stream = stream if stream is not None else sys.stderr
        self._console = console
        if mode == "auto":
            mode = "rich" if self.console.is_terminal else "plain"
        self.mode: Mode = mode
        self._interval = interval if interval is not None else (0.2 if mode == "rich" else 2.0)
        self._description = description
        self._rate = _Rate()
        self._progress: Progress | None = None
        self._task_id: Any = None
        self._ticker: asyncio.Task[None] | None = None
        self.lines = 0  # plain lines written, for tests and curiosity

    @property
    def console(self) -> Console:
        """The rich Console drawn on, made on first use."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self._stream)
        return self._console

    async def __aenter__(self) -> CrawlProgress:
        if self.mode == "quiet":
            return self
        if self.mode == "rich":
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=24),
                TextColumn("{task.fields[line]}"),
                console=self.console,
                auto_refresh=False,  # refreshed from the event loop, no extra thread
                transient=False,
            )
            self._task_id = self._progress.add_task(self._description, total=None, line="")
            self._progress.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            # Waits for the ticker to end; re-raises only if *we* were cancelled.
            await asyncio.wait([self._ticker])
            self._ticker = None
        # The final state, so the display ends on the truth. In plain mode only
        # after periodic lines: a crawl shorter than one interval logs nothing (its
        # summary follows anyway, and a one-line error stays one line).
        if self.mode == "rich" or (self.mode == "plain" and self.lines > 0):
            await self.tick()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.tick()

    async def tick(self) -> None:
        """Read a snapshot and show it now."""
        result = self._snapshot()
        snap = await result if inspect.isawaitable(result) else result
        rate = self._rate.add(snap.elapsed, snap.settled)
        if self._progress is not None:
            line = compact_line(snap, rate)
            self._progress.update(
                self._task_id, completed=snap.settled, total=snap.total, line=line
            )
            self._progress.refresh()
        elif self.mode == "plain":
            self._stream.write(plain_line(snap, rate) + "\n")
            self._stream.flush()
            self.lines += 1


# -- the end-of-crawl summary -------------------------------------------------------------


def _status_label(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def summary_renderable(summary: CrawlSummary, *, slowest: int = 5) -> RenderableType:
    """The end-of-crawl tables as one rich renderable."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    rate = summary.pages / summary.wall_time if summary.wall_time > 0 else 0.0
    head = Text(
        f"{summary.pages} pages, {summary.items} items, {summary.error_total} errors, "
        f"{summary.retries} retries in {summary.wall_time:.2f} s ({rate:.1f} pages/s)",
        style="bold",
    )
    parts: list[RenderableType] = [head]
    if summary.stop_reason:
        parts.append(Text(f"stopped early: {summary.stop_reason}", style="yellow"))

    statuses = Table(title="pages by status", title_justify="left", expand=False)
    statuses.add_column("status")
    statuses.add_column("responses", justify="right")
    for status, count in sorted(summary.statuses.items()):
        style = "green" if 200 <= status < 300 else ("yellow" if status < 500 else "red")
        statuses.add_row(_status_label(status), str(count), style=style)
    if summary.statuses:
        parts.append(statuses)

    if summary.error_counts:
        examples: dict[str, tuple[str, str]] = {}
        for url, kind, message in summary.errors:
            examples.setdefault(kind, (url, message))
        errors = Table(title="errors by kind", title_justify="left")
        errors.add_column("kind", style="red")
        errors.add_column("count", justify="right")
        errors.add_column("example URL", overflow="fold")
        errors.add_column("message", overflow="fold")
        for kind, count in sorted(summary.error_counts.items(), key=lambda kv: (-kv[1], kv[0])):
            url, message = examples.get(kind, ("–", "–"))
            errors.add_row(kind, str(count), url, message)
        parts.append(errors)

    timed = [(h, n, s) for h, (n, s) in summary.hosts.items() if n > 0]
    if timed:
        hosts = Table(title="slowest hosts", title_justify="left")
        hosts.add_column("host")
        hosts.add_column("requests", justify="right")
        hosts.add_column("mean", justify="right")
        hosts.add_column("total", justify="right")
        for host, count, seconds in sorted(timed, key=lambda t: -t[2] / t[1])[:slowest]:
            hosts.add_row(host, str(count), f"{seconds / count * 1000:.0f} ms", f"{seconds:.2f} s")
        parts.append(hosts)
    return Group(*parts)


def print_summary(summary: CrawlSummary, console: Console | None = None) -> None:
    """Print the end-of-crawl tables (to stderr unless ``console`` says otherwise)."""
    from rich.console import Console

    (console or Console(file=sys.stderr)).print(summary_renderable(summary))


def summary_text(summary: CrawlSummary, width: int = 100) -> str:
    """The summary tables as plain text (logs, tests, reports)."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(
        summary_renderable(summary)
    )
    return buffer.getvalue()


# -- machine-readable events --------------------------------------------------------------


class EventLog:
    """``--log-json FILE``: one JSON object per line, each with ``event`` and ``ts``.

    Events: ``start`` (settings), ``page`` (url, status, seconds), ``error``
    (url, kind, message), ``retry`` (url, attempt, delay, reason), ``finish``
    (the summary). Lines are buffered and flushed at least every
    ``flush_interval`` seconds and on close, so a busy crawl is not slowed
    down by a write per page.

        >>> with EventLog("crawl.jsonl") as log:
        ...     log.start(concurrency=32)
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_interval: float = 1.0) -> None:
        self.path = os.fspath(path)
        self._file: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        self._flush_interval = flush_interval
        self._last_flush = time.monotonic()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event line; fields must be JSON-serialisable (str() otherwise)."""
        if self._file is None:
            raise ValueError("event log is closed")
        record = {"event": event, "ts": dt.datetime.now(dt.UTC).isoformat(), **fields}
        self._file.write(orjson.dumps(record, default=str) + b"\n")
        now = time.monotonic()
        if now - self._last_flush >= self._flush_interval:
            self._file.flush()
            self._last_flush = now

    def start(self, **settings: Any) -> None:
        """The crawl starts with these settings."""
        self.emit("start", **settings)

    def page(
        self, url: str, status: int | None = None, seconds: float | None = None, **extra: Any
    ) -> None:
        """A page was fetched and handled (status and time when the caller knows them)."""
        if status is not None:
            extra["status"] = status
        if seconds is not None:
            extra["seconds"] = round(seconds, 6)
        self.emit("page", url=url, **extra)

    def error(self, url: str, kind: str, message: str) -> None:
        """A request or callback failed for good."""
        self.emit("error", url=url, kind=kind, message=message)

    def retry(self, url: str, attempt: int, delay: float, reason: str) -> None:
        """A request will be tried again after ``delay`` seconds."""
        self.emit("retry", url=url, attempt=attempt, delay=round(delay, 3), reason=reason)

    def finish(self, summary: CrawlSummary) -> None:
        """The crawl ended; the summary's figures."""
        self.emit(
            "finish",
            pages=summary.pages,
            items=summary.items,
            errors=summary.error_total,
            retries=summary.retries,
            wall_time=round(summary.wall_time, 3),
            statuses={str(k): v for k, v in summary.statuses.items()},
            error_counts=dict(summary.error_counts),
            stop_reason=summary.stop_reason,
        )
        self.flush()

    def flush(self) -> None:
        """Push buffered lines to the file."""
        if self._file is not None:
            self._file.flush()
            self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush and close; safe to call twice."""
        if self._file is not None:
            self._file.close()
            self._file = None


# -- adapters to the engine's types -------------------------------------------------------


def stats_snapshot(stats: CrawlStats, counts: FrontierCounts | None = None) -> ProgressSnapshot:
    """A :class:`ProgressSnapshot` of the engine's live ``CrawlStats``.

    With the frontier's ``counts`` the total is known (this run's pages and
    failures, plus what is pending and in flight), so an ETA can be shown. It
    grows while pages discover new links, as a crawl's total does.
    """
    queued = counts.pending if counts is not None else stats.queued
    total = None
    if counts is not None:
        total = stats.pages + stats.failed + counts.pending + stats.in_flight
    return ProgressSnapshot(
        pages=stats.pages,
        in_flight=stats.in_flight,
        items=stats.items,
        errors=stats.error_count,
        retries=stats.retries,
        elapsed=stats.wall_time,
        queued=queued,
        total=total,
        failed=stats.failed,
    )


def summary_from_stats(stats: CrawlStats, *, items: int | None = None) -> CrawlSummary:
    """The end-of-crawl :class:`CrawlSummary` of the engine's ``CrawlStats``.

    ``items`` overrides the count of yielded items, e.g. with the number of
    distinct items stored when several pages add fields to one item.
    """
    return CrawlSummary(
        pages=stats.pages,
        items=stats.items if items is None else items,
        retries=stats.retries,
        wall_time=stats.wall_time,
        statuses=dict(stats.statuses),
        error_counts=dict(stats.error_kinds),
        errors=[(e.url, e.kind, e.message) for e in stats.errors],
        hosts={host: (t.requests, t.seconds) for host, t in stats.hosts.items()},
        stop_reason=stats.stop_reason,
    )
