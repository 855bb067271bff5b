"""RedisFrontier: one crawl's queue shared by any number of worker processes.

A reliable queue with leases (see docs/distributed.md for why not Streams)::

    add ──> pending ──lease──> leased (deadline) ──settle──> done | failed
               ^  ^                 │    │
               │  └── expired ──────┘    └── retry ──> delayed (not_before)
               └────────────────────── due ───────────────┘

Each arrow is one Lua script, so no state is ever half-moved. A worker that
dies keeps nothing: its leases pass their deadline and the next ``lease`` call
of any worker puts them back (and frees their hosts' slots). A live worker
renews its leases in the background, so a slow page is not taken from it.

It is host-aware (see ``_scripts``): a lease comes from the host ready the
longest among those with a free slot, per-host caps hold across all workers,
and a host's spacing moves its next-ready time in Redis, so no worker waits.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from .._exceptions import StorageError
from .._request import Request
from ..frontier._base import UNLIMITED, FrontierCounts, HostPacing, Lease, Outcome
from . import _scripts
from ._link import DEFAULT_CRAWL_NAME, CrawlKeys, RedisLink, pack, unpack
from ._renewer import Renewer

log = logging.getLogger(__name__)

#: Bytes of the fingerprint stored as the field inside a dedup bucket.
DEDUP_FIELD_BYTES = 6
#: At ``expected_urls`` a bucket holds 48-96 entries: enough to spread each
#: key's ~100 bytes of overhead thin, and under the 128 entries Redis keeps in a
#: compact listpack (hash-max-listpack-entries) up to ~1.3x the expected size.
_BUCKET_TARGET = 48
#: Seconds a has_pending() answer is reused within one process.
_PENDING_CACHE = 0.05


def dedup_bits(expected_urls: int) -> int:
    """Bucket-index bits for a crawl of about ``expected_urls`` URLs (4..24)."""
    return max(
        4, min(24, math.floor(math.log2(max(expected_urls, _BUCKET_TARGET) / _BUCKET_TARGET)))
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def new_worker_id() -> str:
    """``host:pid:random`` — unique even when a pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RedisFrontier:
    """A :class:`corocrawl.frontier.Frontier` on a Redis server, shared by workers.

    Workers that use the same ``url`` and ``crawl_name`` share one crawl.

    >>> frontier = RedisFrontier("redis://127.0.0.1:6379/0", "douban")
    >>> crawler = Crawler(frontier=frontier, sinks=[RedisSink(url, "douban")])

    ``lease_seconds``: how long a dead worker's requests stay locked before
    another worker gets them (live workers renew every third of it).
    ``expected_urls``: sizes the dedup buckets when the crawl is created; the
    first worker's value is stored and later workers use it.
    ``prefetch``: requests leased per round trip (each is leased, so at most
    this many extra are re-fetched when a worker dies).
    """

    def __init__(
        self,
        url: str,
        crawl_name: str = DEFAULT_CRAWL_NAME,
        *,
        lease_seconds: float = 30.0,
        expected_urls: int = 1_000_000,
        prefetch: int = 8,
        poll_interval: float = 0.05,
        worker_id: str | None = None,
    ) -> None:
        if lease_seconds <= 0:
            raise StorageError(f"lease_seconds must be positive, got {lease_seconds}")
        self._link = RedisLink.connect(url)
        self.keys = CrawlKeys(crawl_name)
        self.lease_seconds = float(lease_seconds)
        self.worker_id = worker_id or new_worker_id()
        self._expected_urls = expected_urls
        self._bits = dedup_bits(expected_urls)
        self._prefetch = max(1, prefetch)
        self._poll_interval = poll_interval
        self.pacing: HostPacing = UNLIMITED
        self._buffer: deque[Lease] = deque()
        # Leases handed to the engine, by token (rid); those still holding their
        # host's slot are also in _holding.
        self._held: dict[str, Lease] = {}
        self._holding: set[str] = set()
        self._lease_lock = asyncio.Lock()
        self._next_poll = 0.0
        self._renewer = Renewer(self._renew_once, self.lease_seconds / 3, "leases")
        self._done_local = 0
        self._pending_checked = (0.0, True)
        self._started = time.monotonic()
        s = _scripts
        self._add = self._link.script(s.ADD)
        self._lease = self._link.script(s.LEASE)
        self._settle = self._link.script(s.SETTLE)
        self._renew = self._link.script(s.RENEW)
        self._release = self._link.script(s.RELEASE)
        self._free = self._link.script(s.FREE_SLOTS)
        self._dead = self._link.script(s.DEAD_LETTER)
        self._heartbeat = self._link.script(s.HEARTBEAT)

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Agree on the crawl's dedup layout and start renewing leases + heartbeats."""
        k = self.keys
        client = self._link.client

        async def agree() -> Any:
            await client.hsetnx(k.meta, "dedup_bits", self._bits)
            await client.hsetnx(k.meta, "created", f"{time.time():.3f}")
            return await client.hget(k.meta, "dedup_bits")

        stored = await self._link.call("open", agree)
        self._bits = int(stored)
        await self._beat()
        self._renewer.start()

    async def close(self) -> None:
        """Stop renewing; hand leases not yet settled back to pending at once."""
        await self._renewer.stop()
        rids = self._held_rids()
        k = self.keys
        try:
            # Bounded: if Redis is down at exit, the leases simply expire.
            async with asyncio.timeout(min(self.lease_seconds, 10.0)):
                if rids:
                    back = await self._link.call(
                        "release",
                        self._release,
                        keys=k.frontier,
                        args=[k.prefix, self.worker_id, *rids],
                    )
                    log.info("returned %d unsettled leases to the shared frontier", back)
                await self._link.call("close", self._link.client.hdel, k.workers, self.worker_id)
        except TimeoutError:
            log.warning(
                "Redis unreachable at exit: %d leases will return to other workers in %.0f s",
                len(rids),
                self.lease_seconds,
            )
        finally:
            self._buffer.clear()
            self._held.clear()
            self._holding.clear()
            await self._link.close()

    # -- the Frontier protocol ---------------------------------------------------------

    async def add(self, requests: Sequence[Request]) -> int:
        """Queue requests not seen before by ANY worker; return how many were new."""
        if not requests:
            return 0
        bucket_keys, args = self._encode_new(requests, strict=True)
        k = self.keys
        added: int = await self._link.call(
            "add",
            self._add,
            keys=[*k.frontier, *bucket_keys],
            args=[k.prefix, len(bucket_keys), *args],
        )
        self._pending_checked = (0.0, True)
        return added

    async def lease(self, timeout: float) -> Lease | None:
        """Lease a request of a ready host with a free slot, waiting up to ``timeout`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            if self._buffer:
                return self._hand_out(self._buffer.popleft())
            async with self._lease_lock:
                if not self._buffer and loop.time() >= self._next_poll:
                    wait = await self._fill()
                    if not self._buffer:
                        self._next_poll = loop.time() + min(wait, self._poll_interval)
            if self._buffer:
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(remaining, max(0.001, self._next_poll - loop.time())))

    async def release(self, lease: Lease, *, pause: float = 0.0) -> None:
        """Free the lease's host slot in Redis; the host waits ``pause`` s more."""
        rid = str(lease.token)
        if rid not in self._holding:
            return
        self._holding.discard(rid)
        host = lease.host
        k = self.keys
        await self._link.call(
            "free-slot",
            self._free,
            keys=k.frontier,
            args=[k.prefix, 1, rid, f"{max(0.0, pause):.3f}", self._host_config(host)],
        )

    def _host_config(self, host: str) -> str:
        return f"{self.pacing.cap(host)} {max(0.0, self.pacing.spacing(host)):.3f}"

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        """Acknowledge leases: children queued (dedup) and states set in ONE script."""
        if not outcomes:
            return
        now = time.time()
        args: list[Any] = [self.keys.prefix, len(outcomes)]
        for outcome in outcomes:
            rid = str(outcome.lease.token)
            if self._held.pop(rid, None) is None:
                log.warning(
                    "settle for a lease this worker does not hold: %s", outcome.request.url
                )
                continue
            self._holding.discard(rid)  # the script frees the slot if not done yet
            payload = b""
            delay = 0.0
            if outcome.state == "retry":
                payload = pack(outcome.request.to_dict())
                delay = max(0.0, outcome.request.not_before - now)
            error = (
                f"{outcome.request.url}\t{outcome.error or ''}" if outcome.state == "failed" else ""
            )
            args += [rid, outcome.state, f"{delay:.3f}", payload, error]
        args[1] = (len(args) - 2) // 5
        children = [child for outcome in outcomes for child in outcome.children]
        bucket_keys, child_args = self._encode_new(children, strict=False)
        args += [len(bucket_keys), *child_args]
        k = self.keys
        result = await self._link.call(
            "settle",
            self._settle,
            keys=[*k.frontier, *bucket_keys],
            args=args,
        )
        self._done_local += int(result[0]) + int(result[1])
        self._pending_checked = (0.0, True)

    async def has_pending(self) -> bool:
        """True while anything is pending, delayed or leased by ANY worker."""
        k = self.keys

        async def total() -> int:
            async with self._link.client.pipeline(transaction=False) as pipe:
                pipe.zcard(k.pending).zcard(k.delayed).zcard(k.leased)
                return sum(await pipe.execute())

        if self._buffer:
            return True
        # Idle workers ask this in a loop; one answer per 50 ms per process is
        # plenty. Caching "no" is safe: once nothing is pending or leased
        # anywhere, nothing can be added except by a new seeding.
        loop_now = asyncio.get_running_loop().time()
        checked_at, answer = self._pending_checked
        if loop_now - checked_at < _PENDING_CACHE:
            return answer
        answer = await self._link.call("has_pending", total) > 0
        self._pending_checked = (asyncio.get_running_loop().time(), answer)
        return answer

    async def counts(self) -> FrontierCounts:
        """Shared counts: pending (incl. waiting to retry), leased, done, failed."""
        k = self.keys

        async def read() -> list[Any]:
            async with self._link.client.pipeline(transaction=False) as pipe:
                pipe.zcard(k.pending).zcard(k.delayed).zcard(k.leased).hmget(
                    k.stats, "done", "failed"
                )
                return list(await pipe.execute())

        pending, delayed, leased, (done, failed) = await self._link.call("counts", read)
        return FrontierCounts(
            pending=pending + delayed,
            in_flight=leased,
            done=int(done or 0),
            failed=int(failed or 0),
        )

    # -- internals ---------------------------------------------------------------

    def _dedup_slot(self, fp: bytes) -> tuple[str, bytes]:
        bucket = int.from_bytes(fp[:4], "big") >> (32 - self._bits)
        return self.keys.seen(bucket), fp[4 : 4 + DEDUP_FIELD_BYTES]

    def _encode_new(
        self, requests: Sequence[Request], *, strict: bool
    ) -> tuple[list[str], list[Any]]:
        """KEYS (one dedup bucket per request) and ARGV for the enqueue step."""
        now = time.time()
        bucket_keys: list[str] = []
        args: list[Any] = []
        for request in requests:
            try:
                payload = pack(request.to_dict())
            except (TypeError, ValueError, OverflowError) as exc:
                message = (
                    f"request {request.url} cannot be stored in Redis "
                    f"(meta must be msgpack-able): {exc}"
                )
                if strict:
                    raise StorageError(message) from None
                log.error("%s; dropped", message)
                continue
            bucket, field = self._dedup_slot(request.fingerprint)
            bucket_keys.append(bucket)
            delay = max(0.0, request.not_before - now) if request.not_before else 0.0
            host = request.host
            args += [
                field,
                "1" if request.dont_filter else "0",
                request.priority,
                f"{delay:.3f}",
                payload,
                host,
                self._host_config(host),
            ]
        return bucket_keys, args

    async def _fill(self) -> float:
        """Lease a batch into the local buffer; return seconds to wait if empty."""
        k = self.keys
        reply = await self._link.call(
            "lease",
            self._lease,
            keys=k.frontier,
            args=[k.prefix, self.worker_id, self.lease_seconds, self._prefetch],
        )
        for i in range(1, len(reply), 2):
            rid = _text(reply[i])
            request = await self._decode(rid, reply[i + 1])
            if request is not None:
                self._buffer.append(Lease(request, rid, request.host))
        return float(reply[0]) / 1000.0

    async def _decode(self, rid: str, payload: bytes) -> Request | None:
        try:
            return Request.from_dict(unpack(payload))
        except (ValueError, TypeError, KeyError) as exc:
            reason = f"{exc.__class__.__name__}: {exc}"[:500]
            log.error(
                "malformed request %s in Redis (%s); moved to %s", rid, reason, self.keys.dead
            )
            k = self.keys
            await self._link.call(
                "dead-letter",
                self._dead,
                keys=[*k.frontier, k.dead, k.dead_why],
                args=[k.prefix, rid, reason],
            )
            return None

    def _hand_out(self, lease: Lease) -> Lease:
        rid = str(lease.token)
        self._held[rid] = lease
        self._holding.add(rid)
        return lease

    def _held_rids(self) -> list[str]:
        return list(self._held) + [str(lease.token) for lease in self._buffer]

    async def _beat(self) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        beat = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "held": len(self._held) + len(self._buffer),
            "lease": self.lease_seconds,
            "settled": self._done_local,
            "rate": self._done_local / elapsed,
        }
        await self._link.call(
            "heartbeat",
            self._heartbeat,
            keys=[self.keys.workers],
            args=[self.worker_id, pack(beat)],
        )

    async def _renew_once(self) -> None:
        rids = self._held_rids()
        if rids:
            k = self.keys
            lost = await self._link.call(
                "renew",
                self._renew,
                keys=[k.leased, k.owner],
                args=[self.worker_id, self.lease_seconds, *rids],
            )
            # A request settled while the renewal was on its way is no longer
            # ours and not lost: only those we still hold were taken over.
            still_held = set(self._held_rids())
            lost = [rid for rid in lost if _text(rid) in still_held]
            if lost:
                log.warning(
                    "%d leases expired before renewal (worker stalled > %.0f s); "
                    "another worker may fetch them too, items are merged by key",
                    len(lost),
                    self.lease_seconds,
                )
        await self._beat()
