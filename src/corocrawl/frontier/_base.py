"""The frontier contract: what every queue of requests (memory, SQLite, Redis) does.

The engine talks only to this protocol. A request moves through three states::

    add() ──> pending ──lease()──> in flight ──settle(Outcome)──> done | failed
                 ^                                  │
                 └──────── retry (not_before) ──────┘

``settle`` is the acknowledgement: it runs only after the items a response
produced are stored, and it adds the response's new requests and marks the
request done in one step, so a crash repeats a page at most, never loses one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from .._request import Request

OutcomeState = Literal["done", "failed", "retry"]


@dataclass(slots=True)
class Outcome:
    """What became of one leased request.

    ``done``: fetched and handled; ``children`` are the requests it discovered.
    ``failed``: given up on; ``error`` says why (``"kind: message"``).
    ``retry``: put back, to be leased again at ``request.not_before`` or later.
    """

    request: Request
    state: OutcomeState
    children: list[Request] = field(default_factory=list)
    error: str | None = None


@dataclass(slots=True, frozen=True)
class FrontierCounts:
    pending: int
    in_flight: int
    done: int
    failed: int


@runtime_checkable
class Frontier(Protocol):
    """A queue of requests with dedup, leases and acknowledgements."""

    async def open(self) -> None:
        """Acquire resources; after a crash, return in-flight requests to pending."""

    async def close(self) -> None:
        """Release resources. Requests still in flight stay recoverable."""

    async def add(self, requests: Sequence[Request]) -> int:
        """Queue requests not seen before (``dont_filter`` skips dedup); return how many."""

    async def lease(self, timeout: float) -> Request | None:
        """Hand out a request that is ready now, waiting up to ``timeout`` s; None if none."""

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        """Acknowledge leased requests: queue their children, mark them done/failed/retry."""

    async def has_pending(self) -> bool:
        """True while any request is pending, waiting to retry, or in flight anywhere."""

    async def counts(self) -> FrontierCounts:
        """How many requests are in each state."""
