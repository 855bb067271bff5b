"""Adaptive per-host delay: polite without configuration.

The idea is Scrapy's AutoThrottle: if a host answers in ``latency`` seconds and
we want about ``target_concurrency`` requests in flight there, one request every
``latency / target_concurrency`` seconds achieves it. A slow (busy) host thus
gets fewer requests per second and a fast one more. On top of that:

- **429 and 503** double the delay at once (at least ``backoff_floor``): the
  host said it is overloaded. So does a timeout or connection failure. A burst
  of such answers (to requests already in flight) doubles it only once;
- **rising latency** (the smoothed latency climbs above ``rise_factor`` times
  the host's baseline and by more than ``rise_min`` seconds) doubles the target,
  before the host starts failing;
- other error answers (404, 500) never *lower* the delay: they come back fast
  and would otherwise speed us up exactly when something is wrong;
- the delay moves halfway towards its target each time (smooth, no flapping)
  and stays within ``[min_delay, max_delay]``.

The engine's politeness slot reads ``delay(slot)`` before each request start and
calls ``observe(slot, latency, status)`` after each answer.

>>> throttle = AutoThrottle()
>>> throttle.observe("example.com:443", 0.4, 200)
>>> round(throttle.delay("example.com:443"), 3)
0.1
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_OVERLOADED = frozenset({429, 503})
#: How far ``latency / delay`` may fall below a host's cap before the delay counts as
#: holding the host back (``delay(slot, cap)``): the delay tracks the smoothed latency
#: half a step behind, so in the steady state ``latency / delay`` wobbles around
#: ``target_concurrency``; a backoff at least halves it.
_CAP_SLACK = 1.25


@dataclass(slots=True)
class HostThrottle:
    """The adaptive state of one ``host:port`` slot."""

    delay: float
    latency: float | None = None  # smoothed (EWMA) latency in seconds
    baseline: float | None = None  # what the host needs when not busy (slow-rising minimum)
    last_backoff: float = float("-inf")
    responses: int = 0
    backoffs: int = 0
    latency_backoffs: int = 0
    max_delay_seen: float = 0.0
    latency_sum: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "delay_s": round(self.delay, 4),
            "max_delay_s": round(self.max_delay_seen, 4),
            "mean_latency_ms": round(1000 * self.latency_sum / self.responses, 1)
            if self.responses
            else None,
            "responses": self.responses,
            "backoffs": self.backoffs,
            "latency_backoffs": self.latency_backoffs,
        }


class AutoThrottle:
    """Per-host delays computed from observed latency and status codes."""

    def __init__(
        self,
        *,
        target_concurrency: float = 2.0,
        start_delay: float = 0.0,
        min_delay: float = 0.0,
        max_delay: float = 30.0,
        backoff_floor: float = 0.5,
        rise_factor: float = 3.0,
        rise_min: float = 0.05,
        smoothing: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
        max_hosts: int = 10_000,
    ) -> None:
        if target_concurrency <= 0:
            raise ValueError("target_concurrency must be positive")
        if not 0 <= min_delay <= max_delay:
            raise ValueError("need 0 <= min_delay <= max_delay")
        self.target_concurrency = target_concurrency
        self.start_delay = max(min_delay, min(start_delay, max_delay))
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.backoff_floor = backoff_floor
        self.rise_factor = rise_factor
        self.rise_min = rise_min
        self._clock = clock
        self.smoothing = smoothing
        # Most recently observed last; past max_hosts the least recent is
        # forgotten (it starts again from start_delay if it comes back).
        self.max_hosts = max(1, max_hosts)
        self._hosts: OrderedDict[str, HostThrottle] = OrderedDict()

    def _host(self, slot: str) -> HostThrottle:
        state = self._hosts.get(slot)
        if state is None:
            state = self._hosts[slot] = HostThrottle(delay=self.start_delay)
            if len(self._hosts) > self.max_hosts:
                self._hosts.popitem(last=False)
        else:
            self._hosts.move_to_end(slot)
        return state

    def delay(self, slot: str, cap: int | None = None) -> float:
        """The delay in seconds to keep between request starts on ``slot``.

        ``cap``: the host's concurrency cap. The delay aims at ``latency / delay``
        requests in flight; when that is at least the cap, the cap alone already
        holds the host there and the delay is 0. A spacing on top would only cost
        throughput: its jitter makes some starts wait although a slot is free (a
        host answering steadily in 0.5 s at cap 2 got 3.5 instead of 4 pages/s).
        After a 429/503, a failure or rising latency the delay binds again.

        >>> throttle = AutoThrottle(target_concurrency=2)
        >>> throttle.observe("a.test:80", 0.5, 200)
        >>> throttle.delay("a.test:80"), throttle.delay("a.test:80", cap=2)
        (0.125, 0.0)
        """
        state = self._hosts.get(slot)
        if state is None:
            return self.start_delay
        if (cap is not None and state.latency is not None
                and state.delay * cap <= state.latency * _CAP_SLACK):
            return 0.0
        return state.delay

    def observe(self, slot: str, latency: float, status: int | None) -> None:
        """Learn from one answer: ``latency`` in seconds, ``status`` None for a failure."""
        state = self._host(slot)
        now = self._clock()
        state.responses += 1
        state.latency_sum += latency
        if status in _OVERLOADED or status is None:
            # Answers to requests sent before the last backoff say nothing new:
            # back off at most once per delay period, not once per queued request.
            if now - state.last_backoff >= max(state.delay, latency):
                state.last_backoff = now
                state.backoffs += 1
                self._set(state, max(state.delay * 2, self.backoff_floor))
            return
        if state.latency is None:
            state.latency = latency
        else:
            state.latency += self.smoothing * (latency - state.latency)
        if state.baseline is None or state.latency < state.baseline:
            state.baseline = state.latency
        else:  # the baseline drifts up slowly, so one lucky fast answer does not stick
            state.baseline += 0.01 * (state.latency - state.baseline)
        target = state.latency / self.target_concurrency
        rise = state.latency - state.baseline
        if state.latency > self.rise_factor * state.baseline and rise > self.rise_min:
            # Latency climbing well above what this host usually needs: it is
            # getting busy, so ask less of it before it starts failing.
            state.latency_backoffs += 1
            target *= 2
        new_delay = (state.delay + target) / 2
        if status >= 400 and new_delay < state.delay:
            new_delay = state.delay  # fast error pages must not speed us up
        self._set(state, new_delay)

    def _set(self, state: HostThrottle, delay: float) -> None:
        state.delay = max(self.min_delay, min(delay, self.max_delay))
        state.max_delay_seen = max(state.max_delay_seen, state.delay)

    def report(self) -> dict[str, dict[str, Any]]:
        """Per-host figures for the crawl's stats: current and max delay, latency, backoffs."""
        return {slot: state.as_dict() for slot, state in sorted(self._hosts.items())}


class CrawlPacer:
    """The engine's ``Pacer`` for generic crawls: robots.txt floor + adaptive delay.

    The spacing between two request starts on a host is
    ``max(floor(host), jittered throttle delay)``: ``floor`` (robots.txt
    Crawl-delay, ``--delay``) is a hard minimum that jitter never undercuts; the
    adaptive part is spread by ``jitter`` so requests do not beat like a clock.
    The frontier asks for it each time it leases a request of the host and
    moves the host's next-ready time by it; nobody sleeps here.

    >>> pacer = CrawlPacer(AutoThrottle(), floor=lambda host: 0.2)
    >>> pacer.spacing("example.com:443")
    0.2
    """

    def __init__(
        self,
        throttle: AutoThrottle | None,
        *,
        floor: Callable[[str], float] = lambda host: 0.0,
        limit: Callable[[str], int | None] = lambda host: None,
        jitter: float = 0.5,
    ) -> None:
        self.throttle = throttle
        self.floor = floor
        self.limit = limit
        self.jitter = max(0.0, min(jitter, 1.0))

    def cap(self, host: str) -> int | None:
        """A lower concurrency for ``host`` for now (1 until its robots.txt is known)."""
        return self.limit(host)

    def spacing(self, host: str, cap: int | None = None) -> float:
        """Seconds to keep between the last request start on ``host`` and the next.

        ``cap``: the host's concurrency cap, if known; the adaptive delay gives way
        to it while the cap alone keeps the host within the throttle's aim.
        """
        adaptive = self.throttle.delay(host, cap) if self.throttle is not None else 0.0
        if adaptive > 0 and self.jitter:
            adaptive *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return max(self.floor(host), adaptive)

    def observe(self, host: str, latency: float, status: int | None) -> None:
        """Feed one answer to the adaptive throttle."""
        if self.throttle is not None:
            self.throttle.observe(host, latency, status)

    def report(self) -> dict[str, dict[str, Any]]:
        """Per-host politeness figures: the throttle's (recent hosts), plus the floor."""
        report = self.throttle.report() if self.throttle is not None else {}
        for host, entry in report.items():
            entry["floor_s"] = self.floor(host)
        return report
