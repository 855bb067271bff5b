"""The in-memory frontier: fast, for scripts, tests and throwaway crawls.

Nothing survives the process; use the SQLite store to resume. Pending requests
wait in ``HostQueues`` (one queue per host, hosts taking turns). ``max_pending``
bounds the memory they take: requests past it spill to an unlinked temporary
file and come back as the queue drains, so nothing is ever dropped and a URL
marked seen is always somewhere in the queue.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import tempfile
import time
from collections.abc import Hashable, Sequence
from typing import IO

import orjson

from .._request import Request
from ._base import UNLIMITED, FrontierCounts, HostPacing, Lease, Outcome
from ._hosts import HostQueues

log = logging.getLogger(__name__)

#: Requests read back from the spill file at a time.
_UNSPILL_BATCH = 1024


class _Spill:
    """Requests past ``max_pending``, as JSON lines in an unlinked temporary file (FIFO)."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._read_at = 0
        self.count = 0

    def write(self, request: Request) -> bool:
        """Append ``request``; False if it cannot be serialised (it stays in memory then)."""
        try:
            line = orjson.dumps(request.to_dict()) + b"\n"
        except TypeError:
            return False
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="corocrawl-spill-")  # noqa: SIM115 (closed by close())
        self._file.seek(0, 2)
        self._file.write(line)
        self.count += 1
        return True

    def read(self, limit: int) -> list[Request]:
        if self._file is None or not self.count:
            return []
        self._file.seek(self._read_at)
        requests = []
        for _ in range(min(limit, self.count)):
            requests.append(Request.from_dict(orjson.loads(self._file.readline())))
        self.count -= len(requests)
        self._read_at = self._file.tell()
        if not self.count:  # all read back: reuse the file from its start
            self._file.truncate(0)
            self._read_at = 0
        return requests

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.count = 0
        self._read_at = 0


class MemoryFrontier:
    """A host-aware ``Frontier`` held in this process's memory.

    ``max_pending`` bounds the requests held in memory; past it they spill to
    a temporary file (``spilled`` counts them) and are read back, oldest
    first, as the in-memory queue falls under half of it.

    >>> frontier = MemoryFrontier(max_pending=100_000)
    """

    def __init__(self, *, max_pending: int = 1_000_000, pacing: HostPacing | None = None) -> None:
        self.max_pending = max(1, max_pending)
        self.spilled = 0
        self._queues = HostQueues(pacing or UNLIMITED)
        self._spill = _Spill()
        self._seen: set[bytes] = set()
        self._tokens = itertools.count(1)
        self._leased: dict[Hashable, Lease] = {}
        self._holding: set[Hashable] = set()  # leases whose host slot is still taken
        self._done = 0
        self._failed = 0
        self._changed = asyncio.Event()

    @property
    def pacing(self) -> HostPacing:
        return self._queues.pacing

    @pacing.setter
    def pacing(self, pacing: HostPacing) -> None:
        self._queues.pacing = pacing

    @property
    def hosts(self) -> int:
        """Hosts the frontier keeps state for (bounded by the hosts with work)."""
        return self._queues.hosts

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self._spill.close()

    def _push(self, request: Request) -> None:
        if len(self._queues) >= self.max_pending and self._spill.write(request):
            self.spilled += 1
            return
        self._queues.push(next(self._tokens), request, time.time())

    def _add_new(self, requests: Sequence[Request]) -> int:
        added = 0
        for request in requests:
            if not request.dont_filter:
                fp = request.fingerprint
                if fp in self._seen:
                    continue
                self._seen.add(fp)
            self._push(request)
            added += 1
        return added

    async def add(self, requests: Sequence[Request]) -> int:
        added = self._add_new(requests)
        if added:
            self._changed.set()
        return added

    def _unspill(self) -> None:
        room = self.max_pending // 2 - len(self._queues)
        if self._spill.count and room > 0:
            now = time.time()
            for request in self._spill.read(min(room, _UNSPILL_BATCH)):
                self._queues.push(next(self._tokens), request, now)

    def _pop_ready(self) -> Lease | None:
        self._unspill()
        lease = self._queues.pop(time.time())
        if lease is not None:
            self._leased[lease.token] = lease
            self._holding.add(lease.token)
        return lease

    async def lease(self, timeout: float) -> Lease | None:
        lease = self._pop_ready()
        if lease is not None or timeout <= 0:
            return lease
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            wait = self._queues.wait_time(time.time())
            if wait is not None:  # a host's delay or a retry's time runs out then
                remaining = min(remaining, wait)
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                pass
            lease = self._pop_ready()
            if lease is not None:
                return lease
        return None

    async def release(self, lease: Lease, *, pause: float = 0.0) -> None:
        self._release(lease, pause)

    def _release(self, lease: Lease, pause: float = 0.0) -> None:
        if lease.token in self._holding:
            self._holding.discard(lease.token)
            self._queues.release(lease.host, time.time(), pause)
            self._changed.set()

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            lease = outcome.lease
            if self._leased.pop(lease.token, None) is None:
                log.warning("settled a lease this frontier does not hold: %s", lease.request.url)
                continue
            self._release(lease)  # a no-op once the worker released it
            self._add_new(outcome.children)
            if outcome.state == "done":
                self._done += 1
            elif outcome.state == "failed":
                self._failed += 1
            else:  # a retry goes straight back: it always finds room
                self._queues.push(lease.token, lease.request, time.time())
        self._changed.set()

    async def has_pending(self) -> bool:
        return bool(len(self._queues) or self._spill.count or self._leased)

    async def counts(self) -> FrontierCounts:
        pending = len(self._queues) + self._spill.count
        return FrontierCounts(pending, len(self._leased), self._done, self._failed)
