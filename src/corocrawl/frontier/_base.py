"""The frontier contract: what every queue of requests (memory, SQLite, Redis) does.

The engine talks only to this protocol. A request moves through three states::

    add() ──> pending ──lease()──> in flight ──settle(Outcome)──> done | failed
                 ^                                  │
                 └──────── retry (not_before) ──────┘

Every frontier is **host-aware**: ``lease`` hands out only a request whose host
(``host:port``) has a free slot (fewer than ``pacing.cap(host)`` in flight) and
whose next-allowed time has come; hosts take turns (earliest ready first) and
priorities hold within a host. A host's delay never holds a worker: leasing
moves the host's next-ready time ``pacing.spacing(host)`` ahead, and
``release(lease, pause=...)`` (a 429/503 Retry-After) moves it further. A
worker releases the host's slot as soon as its fetch is over; ``settle`` comes
later, after the items are stored.

A ``Lease`` carries the backend's ``token`` (a row id, a Redis id); the engine
gives the lease back in its ``Outcome``, so no backend guesses which request is
meant from the request object.

``settle`` is the acknowledgement: it runs only after the items a response
produced are stored, and it adds the response's new requests and marks the
request done in one step, so a crash repeats a page at most, never loses one.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from .._request import Request

OutcomeState = Literal["done", "failed", "retry"]


class HostPacing(Protocol):
    """What a frontier asks about a host when it leases one of its requests.

    The engine's ``corocrawl._politeness.HostPacing`` answers from the crawl's
    settings, robots.txt Crawl-delay and the adaptive throttle.
    """

    def cap(self, host: str) -> int:
        """Requests to ``host`` allowed in flight at once."""

    def spacing(self, host: str) -> float:
        """Seconds between two request starts on ``host``."""


@dataclass(frozen=True, slots=True)
class FixedPacing:
    """The same cap for every host and no spacing: the default of a bare frontier."""

    per_host: int = 8
    delay: float = 0.0

    def cap(self, host: str) -> int:
        return self.per_host

    def spacing(self, host: str) -> float:
        return self.delay


#: A bare frontier's pacing until the engine gives it the crawl's: no cap, no spacing.
UNLIMITED = FixedPacing(per_host=2**31 - 1)


@dataclass(frozen=True, slots=True)
class Lease:
    """A request handed out by ``lease``; ``token`` identifies it to its backend."""

    request: Request
    token: Hashable
    host: str

    def __reduce__(self) -> tuple[type[Lease], tuple[Request, Hashable, str]]:
        # Pickled for every page with processes=N: positional, not field by field.
        return (Lease, (self.request, self.token, self.host))


@dataclass(slots=True)
class Outcome:
    """What became of one lease.

    ``done``: fetched and handled; ``children`` are the requests it discovered.
    ``failed``: given up on; ``error`` says why (``"kind: message"``).
    ``retry``: put back, to be leased again at ``request.not_before`` or later
    (the engine updates ``lease.request``'s ``attempt`` and ``not_before``).
    """

    lease: Lease
    state: OutcomeState
    children: list[Request] = field(default_factory=list)
    error: str | None = None

    def __reduce__(self) -> tuple[type[Outcome], tuple[Any, ...]]:
        # Pickled for every page with processes=N: positional, not field by field.
        return (Outcome, (self.lease, self.state, self.children, self.error))

    @property
    def request(self) -> Request:
        return self.lease.request


@dataclass(slots=True, frozen=True)
class FrontierCounts:
    pending: int
    in_flight: int
    done: int
    failed: int


@runtime_checkable
class Frontier(Protocol):
    """A queue of requests with dedup, leases and acknowledgements."""

    pacing: HostPacing
    """Caps and spacing per host; the engine sets it before ``open``."""

    async def open(self) -> None:
        """Acquire resources; after a crash, return in-flight requests to pending."""

    async def close(self) -> None:
        """Release resources. Requests still in flight stay recoverable."""

    async def add(self, requests: Sequence[Request]) -> int:
        """Queue requests not seen before (``dont_filter`` skips dedup); return how many."""

    async def lease(self, timeout: float) -> Lease | None:
        """A request of a host that is ready now (free slot, delay passed); wait up to
        ``timeout`` s for one; None if none."""

    async def release(self, lease: Lease, *, pause: float = 0.0) -> None:
        """The fetch of ``lease`` is over: free its host's slot; hold the host ``pause`` s.

        Idempotent; ``settle`` releases a lease that was not released.
        """

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        """Acknowledge leases: queue their children, mark them done/failed/retry."""

    async def has_pending(self) -> bool:
        """True while any request is pending, waiting to retry, or in flight anywhere."""

    async def counts(self) -> FrontierCounts:
        """How many requests are in each state."""
