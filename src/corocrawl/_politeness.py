"""Per-host politeness: how many requests at once, and how far apart.

``HostPacing`` answers the frontier's two questions about a host (``host:port``)
when it leases a request: its concurrency cap and the spacing between request
starts (with jitter, so we do not beat like a metronome; robots.txt
Crawl-delay and the adaptive throttle come in through a ``Pacer``). The
frontier turns the spacing into the host's next-ready time, so no worker ever
sleeps for a host. A 429/503 Retry-After pauses the host through
``Frontier.release(lease, pause=...)``.

``Slot``/``HostSlots`` remain for downloads outside the engine (posters),
where a few workers may simply wait for a host.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class HostRule:
    """Politeness settings for one host."""

    per_host: int
    delay: float = 0.0
    jitter: float = 0.5


#: Gives the rule for a host, or None for the crawl's defaults.
HostPolicy = Callable[[str], HostRule | None]


class Pacer(Protocol):
    """Spacing that changes during a crawl (robots.txt Crawl-delay, adaptive throttle).

    Hook for generic crawls (``corocrawl._throttle.CrawlPacer``): ``spacing``
    is asked when a request of ``host`` is leased, with the host's cap (the
    larger of it and the rule's delay wins); ``cap`` may lower the host's concurrency for a while
    (None: the rule's); ``observe`` is told each answer's latency and status
    (None when no answer came).
    """

    def spacing(self, host: str, cap: int | None = None) -> float: ...

    def cap(self, host: str) -> int | None: ...

    def observe(self, host: str, latency: float, status: int | None) -> None: ...


class HostPacing:
    """The crawl's per-host politeness, as the frontier asks for it (no per-host state).

    >>> pacing = HostPacing(HostRule(per_host=2, delay=0.5))
    >>> pacing.cap("example.com:443"), 0.25 <= pacing.spacing("example.com:443") <= 0.75
    (2, True)
    """

    def __init__(
        self, default: HostRule, policy: HostPolicy | None = None, pacer: Pacer | None = None
    ) -> None:
        self.default = default
        self.policy = policy
        self.pacer = pacer

    def rule(self, host: str) -> HostRule:
        return (self.policy(host) if self.policy else None) or self.default

    def cap(self, host: str) -> int:
        cap = self.rule(host).per_host
        if self.pacer is not None:
            limit = self.pacer.cap(host)
            if limit is not None:
                cap = min(cap, limit)
        return max(1, cap)

    def spacing(self, host: str) -> float:
        rule = self.rule(host)
        spacing = 0.0
        if rule.delay > 0:
            spread = rule.delay * rule.jitter
            spacing = random.uniform(rule.delay - spread, rule.delay + spread)
        if self.pacer is not None:
            spacing = max(spacing, self.pacer.spacing(host, self.cap(host)))
        return spacing

    def observe(self, host: str, latency: float, status: int | None) -> None:
        if self.pacer is not None:
            self.pacer.observe(host, latency, status)


class Slot:
    """One host's concurrency cap and request spacing, for downloads a worker waits on."""

    __slots__ = ("_next_start", "_semaphore", "_spacing", "active", "delay", "host", "jitter",
                 "per_host")

    def __init__(self, host: str, rule: HostRule) -> None:
        self.host = host
        self.per_host = rule.per_host
        self.delay = rule.delay
        self.jitter = rule.jitter
        self.active = 0
        self._semaphore = asyncio.Semaphore(rule.per_host)
        self._spacing = asyncio.Lock()
        self._next_start = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every new request to this host for ``seconds`` (429/503 Retry-After)."""
        self._next_start = max(self._next_start, time.monotonic() + seconds)

    async def _wait_turn(self) -> None:
        # The lock serialises only the spacing decision; fetches still overlap
        # up to per_host. Without a delay or pause nobody waits here.
        async with self._spacing:
            wait = self._next_start - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.delay > 0:
                spread = self.delay * self.jitter
                self._next_start = time.monotonic() + random.uniform(
                    self.delay - spread, self.delay + spread
                )

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[Slot]:
        async with self._semaphore:
            if self.delay > 0 or self._next_start > 0:
                await self._wait_turn()
            self.active += 1
            try:
                yield self
            finally:
                self.active -= 1


class HostSlots:
    """The slots of a download run (posters), created on first use of each host."""

    def __init__(self, default: HostRule, policy: HostPolicy | None = None) -> None:
        self.default = default
        self.policy = policy
        self._slots: dict[str, Slot] = {}

    def get(self, host: str) -> Slot:
        slot = self._slots.get(host)
        if slot is None:
            rule = (self.policy(host) if self.policy else None) or self.default
            slot = self._slots[host] = Slot(host, rule)
        return slot

    def slots(self) -> list[Slot]:
        return list(self._slots.values())
