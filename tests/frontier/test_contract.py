"""The Frontier contract, run against every backend: memory, SQLite, real Redis.

Host-aware leasing (hosts take turns, per-host caps, next-ready delays,
priorities within a host) and lease identity (tokens given back on settle).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from corocrawl import Request
from corocrawl.frontier import Frontier, FrontierCounts, Lease, MemoryFrontier, Outcome
from corocrawl.store import SqliteStore

Opener = Callable[["Pacing"], AbstractAsyncContextManager[Frontier]]


@dataclass
class Pacing:
    """A HostPacing with fixed answers per host."""

    per_host: int = 100
    caps: dict[str, int] = field(default_factory=dict)
    spacings: dict[str, float] = field(default_factory=dict)

    def cap(self, host: str) -> int:
        return self.caps.get(host, self.per_host)

    def spacing(self, host: str) -> float:
        return self.spacings.get(host, 0.0)


def host(name: str) -> str:
    return f"{name}.test:80"


def req(site: str, path: str, **kwargs: object) -> Request:
    return Request(f"http://{site}.test/{path}", "page", **kwargs)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def open_frontier(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """``async with open_frontier(pacing) as frontier`` for the backend under test."""
    kind = request.param
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else None

    @asynccontextmanager
    async def opener(pacing: Pacing) -> AsyncIterator[Frontier]:
        frontier: Frontier
        if kind == "memory":
            frontier = MemoryFrontier()
        elif kind == "sqlite":
            frontier = SqliteStore(tmp_path / "crawl.db").frontier
        else:
            from corocrawl.redis import RedisFrontier

            assert redis_url is not None
            frontier = RedisFrontier(redis_url, "contract", lease_seconds=5, prefetch=1)
        frontier.pacing = pacing
        await frontier.open()
        try:
            yield frontier
        finally:
            await frontier.close()

    return opener


async def lease_now(frontier: Frontier) -> list[Lease]:
    """Every lease the frontier grants right now (bounded)."""
    got = []
    for _ in range(100):
        lease = await frontier.lease(0.05)
        if lease is None:
            return got
        got.append(lease)
    raise AssertionError("the frontier kept granting leases")


async def test_is_a_frontier(open_frontier: Opener) -> None:
    async with open_frontier(Pacing()) as frontier:
        assert isinstance(frontier, Frontier)


async def test_lease_tokens_identify_leases_on_settle(open_frontier: Opener) -> None:
    async with open_frontier(Pacing()) as frontier:
        # Two leases of the very same URL (dont_filter) are told apart by token.
        twins = [req("a", "x", dont_filter=True), req("a", "x", dont_filter=True)]
        assert await frontier.add(twins) == 2
        first, second = await lease_now(frontier)
        assert first.token != second.token and first.host == host("a")
        assert first.request.url == second.request.url
        await frontier.settle([Outcome(second, "failed", error="http_500: HTTP 500")])
        assert await frontier.counts() == FrontierCounts(0, 1, 0, 1)
        await frontier.settle([Outcome(first, "done")])
        assert await frontier.counts() == FrontierCounts(0, 0, 1, 1)
        assert not await frontier.has_pending()


async def test_hosts_take_turns(open_frontier: Opener) -> None:
    async with open_frontier(Pacing()) as frontier:
        # Queued host by host, as a site's first page links them.
        await frontier.add([req(site, str(i)) for site in "abc" for i in range(3)])
        order = []
        for _ in range(9):
            lease = await frontier.lease(1)
            assert lease is not None
            order.append(lease.host)
            await frontier.settle([Outcome(lease, "done")])
        assert len(set(order[:3])) == 3, order
        assert len(set(order[3:6])) == 3, order


async def test_per_host_cap_holds_and_a_busy_host_does_not_block_others(
    open_frontier: Opener,
) -> None:
    async with open_frontier(Pacing(per_host=2)) as frontier:
        await frontier.add([req("busy", str(i)) for i in range(6)] + [req("other", "1")])
        leased = await lease_now(frontier)
        hosts = sorted(lease.host for lease in leased)
        assert hosts == [host("busy"), host("busy"), host("other")]
        busy = [lease for lease in leased if lease.host == host("busy")]
        # Releasing one slot (the fetch is over) lets exactly one more through.
        await frontier.release(busy[0])
        await frontier.release(busy[0])  # twice: harmless
        more = await lease_now(frontier)
        assert [lease.host for lease in more] == [host("busy")]
        # Settling without a release frees the slot too.
        await frontier.settle([Outcome(busy[1], "done")])
        assert [lease.host for lease in await lease_now(frontier)] == [host("busy")]


async def test_spacing_moves_the_hosts_next_ready_time(open_frontier: Opener) -> None:
    pacing = Pacing(spacings={host("slow"): 0.4})
    async with open_frontier(pacing) as frontier:
        await frontier.add([req("slow", "1"), req("slow", "2"), req("fast", "1"),
                            req("fast", "2")])
        started = time.monotonic()
        first = await lease_now(frontier)
        # Both fast pages go at once; the slow host gives one, then waits its spacing.
        assert sorted(lease.host for lease in first) == [host("fast")] * 2 + [host("slow")]
        later = await frontier.lease(3)
        assert later is not None and later.host == host("slow")
        assert time.monotonic() - started >= 0.3


async def test_release_pause_holds_the_host(open_frontier: Opener) -> None:
    async with open_frontier(Pacing(per_host=1)) as frontier:
        await frontier.add([req("a", "1"), req("a", "2"), req("b", "1")])
        got = {lease.host: lease for lease in await lease_now(frontier)}
        assert set(got) == {host("a"), host("b")}
        started = time.monotonic()
        await frontier.release(got[host("a")], pause=0.4)  # a 429 with Retry-After
        assert await frontier.lease(0.1) is None
        again = await frontier.lease(3)
        assert again is not None and again.request.url.endswith("a.test/2")
        assert time.monotonic() - started >= 0.3


async def test_priorities_hold_within_a_host(open_frontier: Opener) -> None:
    async with open_frontier(Pacing()) as frontier:
        await frontier.add([req("a", "low", priority=-1), req("a", "mid"),
                            req("a", "high", priority=5), req("a", "mid2")])
        order = [lease.request.url.rsplit("/", 1)[1] for lease in await lease_now(frontier)]
        assert order == ["high", "mid", "mid2", "low"]


async def test_retry_comes_back_after_not_before_with_its_attempt(open_frontier: Opener) -> None:
    async with open_frontier(Pacing(per_host=1)) as frontier:
        await frontier.add([req("a", "flaky")])
        lease = await frontier.lease(1)
        assert lease is not None
        lease.request.attempt += 1
        lease.request.not_before = time.time() + 0.3
        await frontier.settle([Outcome(lease, "retry", error="timeout: slow")])
        assert await frontier.has_pending()
        assert await frontier.lease(0.05) is None
        again = await frontier.lease(3)
        assert again is not None and again.request.attempt == 1
        await frontier.settle([Outcome(again, "done")])
        assert not await frontier.has_pending()


async def test_children_are_deduplicated_on_settle(open_frontier: Opener) -> None:
    async with open_frontier(Pacing()) as frontier:
        await frontier.add([req("a", "list")])
        parent = await frontier.lease(1)
        assert parent is not None
        children = [req("b", "1"), req("c", "1"), req("b", "1"), req("a", "list")]
        await frontier.settle([Outcome(parent, "done", children=children)])
        assert (await frontier.counts()).pending == 2
        assert sorted(lease.host for lease in await lease_now(frontier)) == [
            host("b"), host("c")]


async def test_per_host_cap_is_exact_across_redis_workers(redis_url: str) -> None:
    from corocrawl.redis import RedisFrontier

    workers = [RedisFrontier(redis_url, "cap", prefetch=4) for _ in range(3)]
    for worker in workers:
        worker.pacing = Pacing(per_host=2)
        await worker.open()
    try:
        await workers[0].add([req("one", str(i)) for i in range(20)])
        leased = [lease for worker in workers for lease in await lease_now(worker)]
        assert len(leased) == 2
        owner = next(w for w in workers if str(leased[0].token) in w._held)
        await owner.release(leased[0])
        assert sum([len(await lease_now(worker)) for worker in workers]) == 1
    finally:
        for worker in workers:
            await worker.close()
