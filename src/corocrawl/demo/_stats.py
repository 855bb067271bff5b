"""Live counters of what the replica served: fetches, attempts, concurrency, a request log."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

# Bounded: a long-running serve-demo must not grow without limit (~40 MB at most).
LOG_LIMIT = 200_000
OUTCOME_LIMIT = 200_000

RESET = 0  # the status recorded for an injected connection reset


class DemoStats:
    """What the replica has served since it started (or since ``reset()``).

    Safe to read from another thread (``DemoServerThread``): updates and
    ``snapshot()`` hold a lock.

    ``fetches[path]`` counts requests per path (with query string); the n-th
    request of a path is its attempt n. ``outcomes[(path, attempt)]`` is the
    status answered (``RESET`` = 0 for a reset connection). ``in_flight`` and
    ``max_in_flight`` count concurrent requests, overall and per Host header.
    ``log`` holds ``(time.monotonic(), path, host)`` per request, in order.
    The log keeps the last ``LOG_LIMIT`` requests and ``outcomes`` the first
    ``OUTCOME_LIMIT``; ``reset()`` starts both afresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fetches: Counter[str] = Counter()
        self.outcomes: dict[tuple[str, int], int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.in_flight_by_host: Counter[str] = Counter()
        self.max_in_flight_by_host: dict[str, int] = {}
        self.log: deque[tuple[float, str, str]] = deque(maxlen=LOG_LIMIT)

    def begin(self, path: str, host: str) -> int:
        """Count a request that starts now; return its attempt number for ``path`` (1-based)."""
        with self._lock:
            self.fetches[path] += 1
            attempt = self.fetches[path]
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight
            self.in_flight_by_host[host] += 1
            current = self.in_flight_by_host[host]
            if current > self.max_in_flight_by_host.get(host, 0):
                self.max_in_flight_by_host[host] = current
            self.log.append((time.monotonic(), path, host))
            return attempt

    def end(self, path: str, attempt: int, host: str, status: int) -> None:
        """Count a request that has been answered (or reset) now."""
        with self._lock:
            if len(self.outcomes) < OUTCOME_LIMIT:
                self.outcomes[(path, attempt)] = status
            self.in_flight -= 1
            self.in_flight_by_host[host] -= 1

    @property
    def total(self) -> int:
        """Requests counted so far."""
        with self._lock:
            return sum(self.fetches.values())

    def count(self, path: str) -> int:
        """How many times ``path`` was requested."""
        with self._lock:
            return self.fetches[path]

    def reset(self) -> None:
        """Forget every count and restart attempt numbering (requests in flight stay counted)."""
        with self._lock:
            self.fetches.clear()
            self.outcomes.clear()
            self.max_in_flight = self.in_flight
            self.max_in_flight_by_host = {h: n for h, n in self.in_flight_by_host.items() if n}
            self.log.clear()

    def snapshot(self, include_log: bool = True) -> dict[str, Any]:
        """A JSON-safe copy, as ``GET /_demo/stats`` serves it (``?log=0`` leaves the log out)."""
        with self._lock:
            return {
                "total": sum(self.fetches.values()),
                "fetches": dict(self.fetches),
                "outcomes": [[p, a, s] for (p, a), s in self.outcomes.items()],
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "in_flight_by_host": {h: n for h, n in self.in_flight_by_host.items() if n},
                "max_in_flight_by_host": dict(self.max_in_flight_by_host),
                "log": [list(entry) for entry in self.log] if include_log else [],
            }
