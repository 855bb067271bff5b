"""Per-host politeness slots: how many requests at once, and how far apart.

A slot per ``host:port`` holds a concurrency cap, a minimum spacing between
request starts (with jitter, so we do not beat like a metronome), and a pause
that a 429/503 with Retry-After imposes on the whole host.
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

    Hook for generic crawls (``corocrawl._throttle.CrawlPacer``): ``turn`` is
    awaited inside the slot before every request start, after the slot's own
    delay and pause; ``observe`` is told each answer's latency and status
    (None when no answer came).
    """

    async def turn(self, host: str) -> None: ...

    def observe(self, host: str, latency: float, status: int | None) -> None: ...


class Slot:
    """One host's concurrency cap and request spacing."""

    __slots__ = ("_next_start", "_semaphore", "_spacing", "active", "delay", "host", "jitter",
                 "pacer", "per_host")

    def __init__(self, host: str, rule: HostRule, pacer: Pacer | None = None) -> None:
        self.host = host
        self.per_host = rule.per_host
        self.delay = rule.delay
        self.jitter = rule.jitter
        self.active = 0
        self._semaphore = asyncio.Semaphore(rule.per_host)
        self._spacing = asyncio.Lock()
        self._next_start = 0.0
        self.pacer = pacer

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
            if self.pacer is not None:  # generic crawls: robots Crawl-delay + adaptive delay
                await self.pacer.turn(self.host)
            self.active += 1
            try:
                yield self
            finally:
                self.active -= 1


class HostSlots:
    """The slots of a crawl, created on first use of each host."""

    def __init__(
        self, default: HostRule, policy: HostPolicy | None = None, pacer: Pacer | None = None
    ) -> None:
        self.default = default
        self.policy = policy
        self.pacer = pacer
        self._slots: dict[str, Slot] = {}

    def get(self, host: str) -> Slot:
        slot = self._slots.get(host)
        if slot is None:
            rule = (self.policy(host) if self.policy else None) or self.default
            slot = self._slots[host] = Slot(host, rule, self.pacer)
        return slot

    def slots(self) -> list[Slot]:
        return list(self._slots.values())
