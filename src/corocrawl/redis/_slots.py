"""Per-host politeness shared by every worker: a concurrency cap and a delay.

Each host has a Redis ZSET of slot tokens scored by their deadline (server
time, ms) and a "next start" timestamp. Taking a slot is one Lua script: drop
expired tokens, refuse if ``per_host`` are held or the delay has not passed,
else add a token. A live worker renews its tokens in the background; a dead
worker's tokens simply expire, so its slots come back after ``ttl``.

Within one process only the first waiter of a host polls Redis; the others
wait on a local lock, so polling stays at one caller per host per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .._politeness import HostPolicy, HostRule, HostSlots, Pacer, Slot
from . import _scripts
from ._link import DEFAULT_CRAWL_NAME, CrawlKeys, RedisLink
from ._renewer import Renewer

log = logging.getLogger(__name__)

_MAX_POLL = 0.05


class RedisHostSlots:
    """Cluster-wide per-host slots. ``await acquire(host)`` … ``await release(host)``.

    >>> slots = RedisHostSlots(url, "douban", per_host=4, delay=0.5)
    >>> await slots.open()
    >>> await slots.acquire("movie.douban.com:443")  # ... fetch ...
    >>> await slots.release("movie.douban.com:443")

    ``delay`` is the minimum spacing between request starts to one host across
    all workers, stretched by a random factor in ``[1 - jitter, 1 + jitter]``.
    ``ttl``: how long a dead worker's slot stays taken.
    """

    def __init__(
        self,
        url: str,
        crawl_name: str = DEFAULT_CRAWL_NAME,
        *,
        per_host: int = 8,
        delay: float = 0.0,
        jitter: float = 0.0,
        ttl: float = 30.0,
        worker_id: str | None = None,
    ) -> None:
        self._link = RedisLink.connect(url)
        self.keys = CrawlKeys(crawl_name)
        self.per_host = per_host
        self.delay = delay
        self.jitter = jitter
        self.ttl = ttl
        self._token_prefix = worker_id or f"w{random.getrandbits(48):x}"
        self._counter = itertools.count()
        self._held: dict[str, list[str]] = defaultdict(list)
        self._gates: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._freed: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._acquire = self._link.script(_scripts.SLOT_ACQUIRE)
        self._renew = self._link.script(_scripts.SLOT_RENEW)
        self._renewer = Renewer(self._renew_once, self.ttl / 3, "politeness slots")

    async def open(self) -> None:
        """Start renewing held slots."""
        self._renewer.start()

    async def close(self) -> None:
        """Give back every slot this worker holds and stop renewing."""
        await self._renewer.stop()
        try:
            async with asyncio.timeout(10.0):  # if Redis is down at exit, tokens expire
                for host, tokens in list(self._held.items()):
                    if tokens:
                        await self._link.call(
                            "slot-release", self._link.client.zrem, self.keys.slots(host), *tokens
                        )
        except TimeoutError:
            log.warning("Redis unreachable at exit: politeness slots expire in %.0f s", self.ttl)
        finally:
            self._held.clear()
            await self._link.close()

    async def acquire(
        self, host: str, *, per_host: int | None = None, delay: float | None = None
    ) -> None:
        """Wait until this worker may start a request to ``host`` ("host:port").

        ``per_host``/``delay`` override the defaults for this host (a HostRule).
        """
        token = f"{self._token_prefix}:{next(self._counter)}"
        cap = self.per_host if per_host is None else per_host
        base_delay = self.delay if delay is None else delay
        async with self._gates[host]:
            while True:
                spacing = (
                    base_delay * random.uniform(1 - self.jitter, 1 + self.jitter)
                    if base_delay
                    else 0.0
                )
                wait_ms = await self._link.call(
                    "slot-acquire",
                    self._acquire,
                    keys=[self.keys.slots(host), self.keys.next_start(host)],
                    args=[token, cap, int(self.ttl * 1000), int(spacing * 1000)],
                )
                if int(wait_ms) == 0:
                    self._held[host].append(token)
                    return
                freed = self._freed[host]
                freed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(int(wait_ms) / 1000, _MAX_POLL)):
                        await freed.wait()

    async def release(self, host: str) -> None:
        """Give back one slot on ``host`` taken by :meth:`acquire`."""
        tokens = self._held.get(host)
        if not tokens:
            return
        token = tokens.pop()
        await self._link.call("slot-release", self._link.client.zrem, self.keys.slots(host), token)
        self._freed[host].set()

    async def _renew_once(self) -> None:
        pairs = [(host, token) for host, tokens in self._held.items() for token in tokens]
        if pairs:
            await self._link.call(
                "slot-renew",
                self._renew,
                keys=[self.keys.slots(host) for host, _ in pairs],
                args=[int(self.ttl * 1000), *[token for _, token in pairs]],
            )


class SharedSlot(Slot):
    """A :class:`corocrawl._politeness.Slot` whose cap and delay hold across workers.

    The local semaphore still bounds this process (so it never polls Redis for
    more requests than it may run); the Redis slot bounds the whole crawl.
    Spacing is left to Redis, which sees every worker's starts.
    """

    __slots__ = ("_rule", "_shared")

    def __init__(
        self, host: str, rule: HostRule, shared: RedisHostSlots, pacer: Pacer | None = None
    ) -> None:
        super().__init__(host, HostRule(rule.per_host, 0.0, rule.jitter), pacer)
        self._rule = rule
        self._shared = shared

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[Slot]:
        async with super().hold():
            await self._shared.acquire(
                self.host, per_host=self._rule.per_host, delay=self._rule.delay
            )
            try:
                yield self
            finally:
                await self._shared.release(self.host)


class SharedHostSlots(HostSlots):
    """Drop-in for the engine's ``HostSlots`` that enforces politeness in Redis."""

    def __init__(
        self,
        default: HostRule,
        policy: HostPolicy | None,
        shared: RedisHostSlots,
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__(default, policy, pacer)
        self.shared = shared

    def get(self, host: str) -> Slot:
        slot = self._slots.get(host)
        if slot is None:
            rule = (self.policy(host) if self.policy else None) or self.default
            slot = self._slots[host] = SharedSlot(host, rule, self.shared, self.pacer)
        return slot
