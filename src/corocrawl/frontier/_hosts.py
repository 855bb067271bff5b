"""Per-host queues: the host-aware heart of the in-process frontiers.

``HostQueues`` holds requests in one queue per host (``host:port``) and a heap
of hosts ordered by the time each may next start a request. ``pop`` takes the
best request of the host that has been ready longest, provided it has fewer
than ``pacing.cap(host)`` requests in flight; then that host's next-ready time
moves ``pacing.spacing(host)`` ahead. So hosts take turns, priorities hold
within a host, and a busy or slow host never holds up the others.

State is bounded by the work: a host is forgotten once it has nothing queued,
nothing in flight and its next-ready time has passed.

>>> queues = HostQueues(FixedPacing(per_host=1))
>>> queues.push(1, Request("http://a.test/1")); queues.push(2, Request("http://a.test/2"))
>>> queues.pop(time.time()).token, queues.pop(time.time())   # a.test is busy
(1, None)
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Iterator

from .._request import Request
from ._base import HostPacing, Lease


def site_of_url(url: str) -> str:
    """``scheme://netloc`` of a canonical URL: what SQL can cut from a stored URL."""
    start = url.find("://") + 3
    end = url.find("/", start)
    return url if end < 0 else url[:end]


class _Host:
    __slots__ = ("in_flight", "name", "next_ready", "queue", "scheduled", "site")

    def __init__(self, name: str, site: str) -> None:
        self.name = name
        self.site = site
        # (-priority, arrival, token, request): best priority first, then FIFO.
        self.queue: list[tuple[int, int, Hashable, Request]] = []
        self.in_flight = 0
        self.next_ready = 0.0
        self.scheduled: float | None = None  # the time of this host's live heap entry


class HostQueues:
    """Requests by host; ``pop`` honours each host's cap and next-ready time."""

    def __init__(self, pacing: HostPacing) -> None:
        self.pacing = pacing
        self._hosts: dict[str, _Host] = {}
        # (time, arrival, host): hosts with work that may start at `time`, plus
        # idle hosts cooling down until `time` (forgotten when their entry comes up).
        self._ready: list[tuple[float, int, str]] = []
        # (not_before, arrival, token, request): retries waiting for their time.
        self._delayed: list[tuple[float, int, Hashable, Request]] = []
        self._order = itertools.count()
        self._queued = 0

    def __len__(self) -> int:
        """Requests queued (ready or delayed), not counting those in flight."""
        return self._queued + len(self._delayed)

    @property
    def hosts(self) -> int:
        """Hosts with any state kept: queued or in-flight work, or a delay running."""
        return len(self._hosts)

    def push(self, token: Hashable, request: Request, now: float = 0.0) -> None:
        """Queue ``request``; it waits in a delay heap while ``not_before`` > ``now``."""
        if request.not_before > now:
            heapq.heappush(self._delayed, (request.not_before, next(self._order), token, request))
            return
        self._enqueue(token, request)

    def _enqueue(self, token: Hashable, request: Request) -> None:
        name = request.host
        host = self._hosts.get(name)
        if host is None:
            host = self._hosts[name] = _Host(name, site_of_url(request.url))
        heapq.heappush(host.queue, (-request.priority, next(self._order), token, request))
        self._queued += 1
        self._schedule(host)

    def pop(self, now: float) -> Lease | None:
        """The next request of a ready host with a free slot, or None."""
        while self._delayed and self._delayed[0][0] <= now:
            _, _, token, request = heapq.heappop(self._delayed)
            self._enqueue(token, request)
        ready = self._ready
        # Bounded: every iteration removes one heap entry.
        while ready and ready[0][0] <= now:
            when, _, name = heapq.heappop(ready)
            host = self._hosts.get(name)
            if host is None or host.scheduled != when:
                continue  # superseded by a later entry
            host.scheduled = None
            if not host.queue:
                if host.in_flight == 0:
                    del self._hosts[name]  # idle and its delay has passed: forget it
                continue
            if host.in_flight >= self.pacing.cap(name):
                continue  # release() schedules it again
            _, _, token, request = heapq.heappop(host.queue)
            self._queued -= 1
            host.in_flight += 1
            host.next_ready = now + max(0.0, self.pacing.spacing(name))
            self._schedule(host)
            return Lease(request, token, name)
        return None

    def release(self, name: str, now: float, pause: float = 0.0) -> None:
        """One request of host ``name`` is over; hold the host ``pause`` s more."""
        host = self._hosts.get(name)
        if host is None or host.in_flight == 0:
            return
        host.in_flight -= 1
        if pause > 0:
            host.next_ready = max(host.next_ready, now + pause)
        if not host.queue and host.in_flight == 0 and host.next_ready <= now:
            del self._hosts[name]  # idle, no delay running: nothing to remember
            return
        self._schedule(host)

    def wait_time(self, now: float) -> float | None:
        """Seconds until ``pop`` may find something (0: now), None if nothing is queued."""
        times = []
        if self._ready and self._queued:
            times.append(self._ready[0][0])
        if self._delayed:
            times.append(self._delayed[0][0])
        return max(0.0, min(times) - now) if times else None

    def drain(self) -> Iterator[tuple[Hashable, Request]]:
        """Take every queued request out (e.g. to return them to disk)."""
        for host in self._hosts.values():
            for _, _, token, request in host.queue:
                yield token, request
            host.queue.clear()
        for _, _, token, request in self._delayed:
            yield token, request
        self._delayed.clear()
        self._queued = 0

    def busy_sites(self, queued: int) -> list[str]:
        """Sites (``scheme://netloc``) with ``queued`` requests waiting or no free slot."""
        return [host.site for host in self._hosts.values()
                if len(host.queue) >= queued or host.in_flight >= self.pacing.cap(host.name)]

    def queued_on(self, name: str) -> int:
        host = self._hosts.get(name)
        return len(host.queue) if host is not None else 0

    def in_flight_on(self, name: str) -> int:
        host = self._hosts.get(name)
        return host.in_flight if host is not None else 0

    def _schedule(self, host: _Host) -> None:
        """Give ``host`` a heap entry at its next-ready time if it can start work then.

        An idle host still cooling down gets one too, so it is forgotten on time.
        """
        if host.queue and host.in_flight >= self.pacing.cap(host.name):
            return
        if not host.queue and (host.in_flight or host.next_ready <= 0):
            return
        when = host.next_ready
        if host.scheduled == when:
            return
        host.scheduled = when
        heapq.heappush(self._ready, (when, next(self._order), host.name))
