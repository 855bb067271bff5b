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

from . import _scripts
from ._link import DEFAULT_CRAWL_NAME, CrawlKeys, RedisLink

log = logging.getLogger(__name__)

_MAX_POLL = 0.05


class RedisHostSlots:
    """Cluster-wide per-host slots. ``await acquire(host)`` … ``await release(host)``.

    >>> slots = RedisHostSlots(url, "douban", per_host=4, delay=0.5)
    >>> await slots.open(); await slots.acquire("movie.douban.com:443"); ...; await slots.release(...)

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
        self._renewer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Start renewing held slots."""
        self._renewer = asyncio.create_task(self._renew_forever(), name="redis-slot-renewer")

    async def close(self) -> None:
        """Give back every slot this worker holds and stop renewing."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        for host, tokens in list(self._held.items()):
            if tokens:
                await self._link.call("slot-release", self._link.client.zrem, self.keys.slots(host), *tokens)
        self._held.clear()
        await self._link.close()

    async def acquire(self, host: str) -> None:
        """Wait until this worker may start a request to ``host`` ("host:port")."""
        token = f"{self._token_prefix}:{next(self._counter)}"
        async with self._gates[host]:
            while True:
                delay = self.delay * random.uniform(1 - self.jitter, 1 + self.jitter) if self.delay else 0.0
                wait_ms = await self._link.call(
                    "slot-acquire",
                    self._acquire,
                    keys=[self.keys.slots(host), self.keys.next_start(host)],
                    args=[token, self.per_host, int(self.ttl * 1000), int(delay * 1000)],
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

    async def _renew_forever(self) -> None:
        period = max(0.05, self.ttl / 3)
        while True:
            await asyncio.sleep(period)
            pairs = [(host, token) for host, tokens in self._held.items() for token in tokens]
            if pairs:
                await self._link.call(
                    "slot-renew",
                    self._renew,
                    keys=[self.keys.slots(host) for host, _ in pairs],
                    args=[int(self.ttl * 1000), *[token for _, token in pairs]],
                )
