"""What a crawl did: counters, recorded errors and timings."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

#: How many errors are kept with their URL; past this only the counts grow.
MAX_RECORDED_ERRORS = 1000
#: Hosts whose timings are kept (for the "slowest hosts" report); past this the
#: half with the least total time is dropped, so a broad crawl stays bounded.
MAX_TIMED_HOSTS = 2000


@dataclass(slots=True, frozen=True)
class CrawlError:
    """One failed request or callback: where, what kind, and why."""

    url: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message} ({self.url})"


@dataclass(slots=True, frozen=True)
class PageEvent:
    """One processed request, as the engine's ``on_page`` hook is told of it.

    ``state`` is the outcome's (done, failed, retry); ``status`` and
    ``seconds`` are None when no response came; ``links`` and ``items`` count
    what the callback gave; ``error`` is ``"kind: message"``; ``attempt`` and
    ``not_before`` tell when a retry runs. Small and picklable: with
    ``processes`` it travels from the crawl process that fetched the page.
    """

    url: str
    state: str
    status: int | None = None
    seconds: float | None = None
    links: int = 0
    items: int = 0
    error: str | None = None
    attempt: int = 0
    not_before: float = 0.0


@dataclass(slots=True)
class HostTiming:
    requests: int = 0
    seconds: float = 0.0

    @property
    def mean(self) -> float:
        return self.seconds / self.requests if self.requests else 0.0


@dataclass(slots=True)
class CrawlStats:
    """Counters of one crawl. The engine updates it; progress displays read it.

    ``pages`` counts responses handed to callbacks; ``requests`` counts every
    fetch attempt, retries included.
    """

    started: float = field(default_factory=time.time)
    finished: float | None = None
    requests: int = 0
    pages: int = 0
    items: int = 0
    retries: int = 0
    failed: int = 0
    bytes: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    errors: list[CrawlError] = field(default_factory=list)
    hosts: defaultdict[str, HostTiming] = field(default_factory=lambda: defaultdict(HostTiming))
    in_flight: int = 0
    queued: int | None = None
    stop_reason: str | None = None
    _monotonic_start: float = field(default_factory=time.monotonic, repr=False)
    _monotonic_end: float | None = field(default=None, repr=False)

    def record_error(self, url: str, kind: str, message: str) -> None:
        self.error_kinds[kind] += 1
        if len(self.errors) < MAX_RECORDED_ERRORS:
            self.errors.append(CrawlError(url, kind, message))

    def record_response(self, host: str, status: int, seconds: float, size: int) -> None:
        self.statuses[status] += 1
        self.bytes += size
        timing = self.hosts[host]
        timing.requests += 1
        timing.seconds += seconds
        self._trim_hosts()

    def merge(self, other: CrawlStats) -> None:
        """Add the counts of ``other`` (a crawl process's stats since its last report).

        Gauges (``in_flight``, ``queued``) and times are not added: the
        ``--processes`` parent keeps those itself.
        """
        self.requests += other.requests
        self.pages += other.pages
        self.items += other.items
        self.retries += other.retries
        self.failed += other.failed
        self.bytes += other.bytes
        self.dropped.update(other.dropped)
        self.statuses.update(other.statuses)
        self.error_kinds.update(other.error_kinds)
        room = MAX_RECORDED_ERRORS - len(self.errors)
        self.errors.extend(other.errors[:max(0, room)])
        for host, timing in other.hosts.items():
            mine = self.hosts[host]
            mine.requests += timing.requests
            mine.seconds += timing.seconds
        self._trim_hosts()

    def _trim_hosts(self) -> None:
        if len(self.hosts) > MAX_TIMED_HOSTS:
            keep = sorted(self.hosts.items(), key=lambda entry: entry[1].seconds,
                          reverse=True)[:MAX_TIMED_HOSTS // 2]
            self.hosts = defaultdict(HostTiming, keep)

    def finish(self) -> None:
        self.finished = time.time()
        self._monotonic_end = time.monotonic()

    @property
    def error_count(self) -> int:
        return sum(self.error_kinds.values())

    @property
    def wall_time(self) -> float:
        end = self._monotonic_end if self._monotonic_end is not None else time.monotonic()
        return end - self._monotonic_start

    @property
    def pages_per_second(self) -> float:
        wall = self.wall_time
        return self.pages / wall if wall > 0 else 0.0

    def summary_line(self, items: int | None = None) -> str:
        """One line for the end of a crawl, e.g. for the CLI.

        ``items`` overrides the count of yielded items, e.g. with the number of
        distinct items stored when callbacks add fields to the same item.
        """
        shown = self.items if items is None else items
        return (
            f"{self.pages} pages, {shown} items, {self.error_count} errors, "
            f"{self.retries} retries in {self.wall_time:.2f} s "
            f"({self.pages_per_second:.1f} pages/s)"
        )
