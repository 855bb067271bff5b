"""The in-memory frontier: fast, for scripts, tests and throwaway crawls.

Nothing survives the process; use the SQLite store to resume. Pending requests
wait in a heap ordered by (ready time, -priority, arrival), so a retry whose
``not_before`` lies in the future does not block ready requests behind it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Sequence

from .._request import Request
from ._base import FrontierCounts, Outcome


class MemoryFrontier:
    """A ``Frontier`` held in this process's memory.

    ``max_pending`` bounds the queue: ``add`` beyond it drops the request and
    counts it in ``overflow`` rather than growing without limit.
    """

    def __init__(self, *, max_pending: int = 10_000_000) -> None:
        self.max_pending = max_pending
        self.overflow = 0
        self._heap: list[tuple[float, int, int, Request]] = []
        self._seen: set[bytes] = set()
        self._order = itertools.count()
        self._in_flight = 0
        self._done = 0
        self._failed = 0
        self._changed = asyncio.Event()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _push(self, request: Request) -> bool:
        if len(self._heap) >= self.max_pending:
            self.overflow += 1
            return False
        heapq.heappush(self._heap, (request.not_before, -request.priority, next(self._order),
                                    request))
        return True

    def _add_new(self, requests: Sequence[Request]) -> int:
        added = 0
        for request in requests:
            if not request.dont_filter:
                fp = request.fingerprint
                if fp in self._seen:
                    continue
                self._seen.add(fp)
            added += self._push(request)
        return added

    async def add(self, requests: Sequence[Request]) -> int:
        added = self._add_new(requests)
        if added:
            self._changed.set()
        return added

    def _pop_ready(self) -> Request | None:
        if self._heap and self._heap[0][0] <= time.time():
            self._in_flight += 1
            return heapq.heappop(self._heap)[3]
        return None

    async def lease(self, timeout: float) -> Request | None:
        request = self._pop_ready()
        if request is not None or timeout <= 0:
            return request
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if self._heap:  # something is waiting for its retry time
                remaining = min(remaining, max(0.0, self._heap[0][0] - time.time()))
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                pass
            request = self._pop_ready()
            if request is not None:
                return request
        return None

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            self._in_flight -= 1
            self._add_new(outcome.children)
            if outcome.state == "done":
                self._done += 1
            elif outcome.state == "failed":
                self._failed += 1
            else:
                self._push(outcome.request)
        self._changed.set()

    async def has_pending(self) -> bool:
        return bool(self._heap) or self._in_flight > 0

    async def counts(self) -> FrontierCounts:
        return FrontierCounts(len(self._heap), self._in_flight, self._done, self._failed)
