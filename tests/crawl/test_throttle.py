"""The adaptive per-host delay: the arithmetic, with a fake clock."""

from __future__ import annotations

import pytest

from corocrawl._throttle import AutoThrottle, CrawlPacer

HOST = "example.test:443"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_delay_converges_to_latency_over_target_concurrency() -> None:
    throttle = AutoThrottle(target_concurrency=2.0)
    for _ in range(30):
        throttle.observe(HOST, 0.4, 200)
    assert throttle.delay(HOST) == pytest.approx(0.2, rel=0.01)
    assert throttle.delay("other:80") == 0.0  # an unseen host starts at start_delay


def test_slow_host_gets_a_longer_delay_than_fast_host() -> None:
    throttle = AutoThrottle()
    for _ in range(20):
        throttle.observe("fast:80", 0.02, 200)
        throttle.observe("slow:80", 0.8, 200)
    assert throttle.delay("slow:80") > 10 * throttle.delay("fast:80")


def test_429_and_503_double_the_delay_once_per_burst() -> None:
    clock = Clock()
    throttle = AutoThrottle(backoff_floor=0.5, clock=clock)
    throttle.observe(HOST, 0.1, 200)
    for _ in range(8):  # eight requests in flight all answer 429 at once
        throttle.observe(HOST, 0.1, 429)
    assert throttle.delay(HOST) == 0.5
    assert throttle.report()[HOST]["backoffs"] == 1
    clock.now += 1.0
    throttle.observe(HOST, 0.1, 503)
    assert throttle.delay(HOST) == 1.0
    clock.now += 2.0
    throttle.observe(HOST, 0.1, None)  # a timeout or refused connection counts too
    assert throttle.delay(HOST) == 2.0


def test_rising_latency_backs_off_before_errors() -> None:
    throttle = AutoThrottle(target_concurrency=2.0)
    for _ in range(10):
        throttle.observe(HOST, 0.05, 200)
    steady = throttle.delay(HOST)
    for _ in range(10):
        throttle.observe(HOST, 0.6, 200)
    report = throttle.report()[HOST]
    assert report["latency_backoffs"] > 0
    # More than the plain latency/target rule would give (0.3 s): backed off.
    assert throttle.delay(HOST) > 0.3 > steady


def test_jittery_fast_latency_does_not_count_as_rising() -> None:
    throttle = AutoThrottle()
    for latency in [0.001, 0.03, 0.002, 0.025, 0.001] * 6:  # localhost noise
        throttle.observe(HOST, latency, 200)
    assert throttle.report()[HOST]["latency_backoffs"] == 0
    assert throttle.delay(HOST) < 0.02


def test_fast_error_pages_never_lower_the_delay() -> None:
    throttle = AutoThrottle()
    for _ in range(5):
        throttle.observe(HOST, 0.5, 200)
    before = throttle.delay(HOST)
    for _ in range(10):
        throttle.observe(HOST, 0.001, 404)
    assert throttle.delay(HOST) == before


def test_delay_stays_within_bounds() -> None:
    clock = Clock()
    throttle = AutoThrottle(min_delay=0.1, max_delay=2.0, clock=clock)
    throttle.observe(HOST, 0.0, 200)
    assert throttle.delay(HOST) == 0.1
    for _ in range(20):
        clock.now += 10
        throttle.observe(HOST, 1.0, 429)
    assert throttle.delay(HOST) == 2.0


def test_pacer_floor_is_never_undercut_by_jitter() -> None:
    pacer = CrawlPacer(AutoThrottle(start_delay=0.01), floor=lambda host: 0.05, jitter=1.0)
    assert min(pacer.spacing(HOST) for _ in range(50)) >= 0.05
    pacer.observe(HOST, 0.01, 200)
    assert pacer.report()[HOST]["floor_s"] == 0.05


def test_throttle_forgets_the_least_recent_hosts() -> None:
    throttle = AutoThrottle(max_hosts=3)
    for i in range(10):
        throttle.observe(f"h{i}:80", 0.1, 200)
    assert sorted(throttle.report()) == ["h7:80", "h8:80", "h9:80"]


def test_delay_gives_way_to_the_cap_while_the_host_answers_steadily() -> None:
    # A host answering in 0.5 s at cap 2: the cap alone keeps 2 in flight, so a
    # spacing of ~0.25 s (jittered) on top would only lose throughput.
    throttle = AutoThrottle(target_concurrency=2.0)
    for _ in range(30):
        throttle.observe(HOST, 0.5, 200)
    assert throttle.delay(HOST) == pytest.approx(0.25, rel=0.01)
    assert throttle.delay(HOST, cap=2) == 0.0
    assert throttle.delay(HOST, cap=1) == 0.0
    # A higher cap than the throttle aims at: the delay is what keeps it at 2.
    assert throttle.delay(HOST, cap=8) == pytest.approx(0.25, rel=0.01)


def test_delay_binds_again_after_a_backoff_or_rising_latency() -> None:
    clock = Clock()
    throttle = AutoThrottle(target_concurrency=2.0, clock=clock)
    for _ in range(30):
        throttle.observe(HOST, 0.5, 200)
    throttle.observe(HOST, 0.5, 503)
    assert throttle.delay(HOST, cap=2) == throttle.delay(HOST) >= 0.5
    rising = AutoThrottle(target_concurrency=2.0)
    for _ in range(10):
        rising.observe(HOST, 0.05, 200)
    for _ in range(3):
        rising.observe(HOST, 0.6, 200)
    assert rising.delay(HOST, cap=2) == rising.delay(HOST) > 0
    failed = AutoThrottle(target_concurrency=2.0)
    failed.observe(HOST, 1.0, None)  # no latency known yet: the backoff holds
    assert failed.delay(HOST, cap=2) == failed.delay(HOST) > 0


def test_steady_host_leases_up_to_its_cap_without_spacing() -> None:
    from corocrawl._politeness import HostPacing, HostRule
    from corocrawl._request import Request
    from corocrawl.frontier import HostQueues

    throttle = AutoThrottle(target_concurrency=2.0)
    pacing = HostPacing(HostRule(per_host=2), pacer=CrawlPacer(throttle))
    queues = HostQueues(pacing)
    for i in range(6):
        queues.push(i, Request(f"http://a.test/{i}"))
    host = "a.test:80"
    for _ in range(30):
        throttle.observe(host, 0.5, 200)
    now = 1000.0
    leases = [queues.pop(now), queues.pop(now)]
    assert all(lease is not None for lease in leases)
    assert queues.pop(now) is None  # at its cap
    queues.release(host, now)
    assert queues.pop(now) is not None  # a free slot is used at once: no spacing
    throttle.observe(host, 0.5, 429)
    queues.release(host, now)
    assert queues.pop(now) is not None  # this lease reads the backed-off delay...
    queues.release(host, now)
    assert queues.pop(now) is None  # ...and moves the host's next-ready time by it
