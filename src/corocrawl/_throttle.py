"""Adaptive per-host delay: polite without configuration.

The idea is Scrapy's AutoThrottle: if a host answers in ``latency`` seconds and
we want about ``target_concurrency`` requests in flight there, one request every
``latency / target_concurrency`` seconds achieves it. A slow (busy) host thus
gets fewer requests per second and a fast one more. On top of that:

- **429 and 503** double the delay at once (at least ``backoff_floor``): the
  host said it is overloaded;
- **rising latency** (the smoothed latency climbs above ``rise_factor`` times the
  lowest seen) raises the delay by half, before the host starts failing;
- a timeout or connection failure counts as a slow answer;
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

from dataclasses import dataclass
from typing import Any

_OVERLOADED = frozenset({429, 503})


@dataclass(slots=True)
class HostThrottle:
    """The adaptive state of one ``host:port`` slot."""

    delay: float
    latency: float | None = None  # smoothed (EWMA) latency in seconds
    lowest_latency: float | None = None
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
        smoothing: float = 0.3,
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
        self.smoothing = smoothing
        self._hosts: dict[str, HostThrottle] = {}

    def _host(self, slot: str) -> HostThrottle:
        state = self._hosts.get(slot)
        if state is None:
            state = self._hosts[slot] = HostThrottle(delay=self.start_delay)
        return state

    def delay(self, slot: str) -> float:
        """The delay in seconds to keep between request starts on ``slot``."""
        state = self._hosts.get(slot)
        return state.delay if state is not None else self.start_delay

    def observe(self, slot: str, latency: float, status: int | None) -> None:
        """Learn from one answer: ``latency`` in seconds, ``status`` None for a failure."""
        state = self._host(slot)
        state.responses += 1
        state.latency_sum += latency
        if status in _OVERLOADED:
            state.backoffs += 1
            self._set(state, max(state.delay * 2, self.backoff_floor))
            return
        if state.latency is None:
            state.latency = latency
        else:
            state.latency += self.smoothing * (latency - state.latency)
        if status is not None and (
            state.lowest_latency is None or state.latency < state.lowest_latency
        ):
            state.lowest_latency = state.latency
        target = state.latency / self.target_concurrency
        lowest = state.lowest_latency
        if status is None or (lowest and state.latency > self.rise_factor * lowest):
            # Slower and slower, or no answer: back off before the host starts failing.
            state.latency_backoffs += 1
            target = max(target, state.delay * 1.5, self.min_delay or 0.05)
        new_delay = (state.delay + target) / 2
        if status is not None and status >= 400 and new_delay < state.delay:
            new_delay = state.delay  # fast error pages must not speed us up
        self._set(state, new_delay)

    def _set(self, state: HostThrottle, delay: float) -> None:
        state.delay = max(self.min_delay, min(delay, self.max_delay))
        state.max_delay_seen = max(state.max_delay_seen, state.delay)

    def report(self) -> dict[str, dict[str, Any]]:
        """Per-host figures for the crawl's stats: current and max delay, latency, backoffs."""
        return {slot: state.as_dict() for slot, state in sorted(self._hosts.items())}
