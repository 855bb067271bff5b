"""RedisFrontier against a real redis-server: the Frontier contract, leases, dedup."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis

from corocrawl import Request
from corocrawl.frontier import Frontier, Outcome
from corocrawl.redis import RedisFrontier


def reqs(*paths: str, **kwargs: object) -> list[Request]:
    return [Request(f"http://127.0.0.1:9/{p}", "parse", **kwargs) for p in paths]  # type: ignore[arg-type]


async def abandon(frontier: RedisFrontier) -> None:
    """Simulate a SIGKILLed worker: stop renewing and forget leases without releasing them."""
    frontier._held.clear()
    frontier._holding.clear()
    frontier._buffer.clear()
    await frontier.close()


@pytest.fixture
async def frontier(redis_url: str) -> RedisFrontier:
    f = RedisFrontier(redis_url, "t", lease_seconds=5, prefetch=1)
    await f.open()
    yield f  # type: ignore[misc]
    await f.close()


async def test_is_a_frontier(frontier: RedisFrontier) -> None:
    assert isinstance(frontier, Frontier)


async def test_add_lease_settle_contract(frontier: RedisFrontier) -> None:
    assert not await frontier.has_pending()
    assert await frontier.add(reqs("a", "b", "a")) == 2
    assert await frontier.add(reqs("b")) == 0
    counts = await frontier.counts()
    assert (counts.pending, counts.in_flight) == (2, 0)
    first = await frontier.lease(1)
    assert first is not None and first.request.url.endswith("/a")
    assert first.request.callback == "parse"
    assert (await frontier.counts()).in_flight == 1
    await frontier.settle([Outcome(first, "done", children=reqs("c", "b", "c"))])
    counts = await frontier.counts()
    assert (counts.pending, counts.in_flight, counts.done) == (2, 0, 1)
    got = [await frontier.lease(1), await frontier.lease(1)]
    assert sorted(r.request.url[-1] for r in got if r) == ["b", "c"]
    assert await frontier.lease(0.05) is None
    assert await frontier.has_pending()  # two leased
    await frontier.settle([Outcome(got[0], "done"), Outcome(got[1], "failed", error="http: 404")])  # type: ignore[arg-type]
    assert not await frontier.has_pending()
    counts = await frontier.counts()
    assert (counts.done, counts.failed, counts.pending, counts.in_flight) == (2, 1, 0, 0)


async def test_priority_then_fifo(frontier: RedisFrontier) -> None:
    await frontier.add(reqs("low1", "low2") + reqs("high", priority=5))
    order = [(await frontier.lease(1)).request.url.rsplit("/", 1)[1] for _ in range(3)]  # type: ignore[union-attr]
    assert order == ["high", "low1", "low2"]


async def test_dont_filter_is_queued_again(frontier: RedisFrontier) -> None:
    assert await frontier.add(reqs("x")) == 1
    assert await frontier.add(reqs("x", dont_filter=True)) == 1


async def test_retry_waits_for_not_before(frontier: RedisFrontier) -> None:
    await frontier.add(reqs("r"))
    request = await frontier.lease(1)
    assert request is not None
    request.request.attempt += 1
    request.request.not_before = time.time() + 0.4
    await frontier.settle([Outcome(request, "retry", error="timeout: slow")])
    assert await frontier.has_pending()
    assert await frontier.lease(0.1) is None
    again = await frontier.lease(2)
    assert again is not None and again.request.attempt == 1
    await frontier.settle([Outcome(again, "done")])
    assert not await frontier.has_pending()


async def test_seeding_twice_from_two_workers_is_a_no_op(redis_url: str) -> None:
    a = RedisFrontier(redis_url, "seed")
    b = RedisFrontier(redis_url, "seed")
    await a.open()
    await b.open()
    try:
        assert await a.add(reqs("s1", "s2")) == 2
        assert await b.add(reqs("s1", "s2")) == 0
        assert (await b.counts()).pending == 2
    finally:
        await a.close()
        await b.close()


async def test_dead_workers_lease_goes_to_another(redis_url: str) -> None:
    dead = RedisFrontier(redis_url, "lease", lease_seconds=1.0, prefetch=1)
    live = RedisFrontier(redis_url, "lease", lease_seconds=5, prefetch=1)
    await dead.open()
    await live.open()
    try:
        await dead.add(reqs("p"))
        taken = await dead.lease(1)
        assert taken is not None
        await abandon(dead)
        assert await live.has_pending()
        assert await live.lease(0.1) is None  # still leased by the dead worker
        started = time.monotonic()
        request = await live.lease(3)
        assert request is not None and request.request.url == taken.request.url
        assert 0.2 < time.monotonic() - started < 3.0
        await live.settle([Outcome(request, "done")])
        assert not await live.has_pending()
        stats = await live._link.client.hgetall(live.keys.stats)
        assert int(stats[b"reclaimed"]) == 1 and int(stats[b"done"]) == 1
    finally:
        await live.close()


async def test_live_worker_keeps_its_lease_by_renewing(redis_url: str) -> None:
    slow = RedisFrontier(redis_url, "renew", lease_seconds=1.0, prefetch=1)
    other = RedisFrontier(redis_url, "renew", lease_seconds=5, prefetch=1)
    await slow.open()
    await other.open()
    try:
        await slow.add(reqs("slow"))
        held = await slow.lease(1)
        assert held is not None
        assert await other.lease(1.6) is None  # > the lease: renewed, not reclaimed
        await slow.settle([Outcome(held, "done")])
        assert not await other.has_pending()
    finally:
        await slow.close()
        await other.close()


async def test_close_hands_unsettled_leases_back_at_once(redis_url: str) -> None:
    a = RedisFrontier(redis_url, "close", lease_seconds=60, prefetch=4)
    await a.open()
    await a.add(reqs("1", "2", "3"))
    assert await a.lease(1) is not None  # the other two sit in a's prefetch buffer
    await a.close()
    b = RedisFrontier(redis_url, "close")
    await b.open()
    try:
        counts = await b.counts()
        assert (counts.pending, counts.in_flight) == (3, 0)
    finally:
        await b.close()


async def test_settling_twice_counts_once(redis_url: str) -> None:
    slow = RedisFrontier(redis_url, "stale", lease_seconds=0.3, prefetch=1)
    fast = RedisFrontier(redis_url, "stale", lease_seconds=5, prefetch=1)
    await slow.open()
    await fast.open()
    try:
        await slow.add(reqs("p"))
        first = await slow.lease(1)
        assert first is not None
        await slow._renewer.stop()  # a stalled worker stops renewing
        second = await fast.lease(2)
        assert second is not None
        await fast.settle([Outcome(second, "done", children=reqs("child"))])
        await slow.settle([Outcome(first, "done", children=reqs("child"))])
        counts = await fast.counts()
        assert (counts.done, counts.pending) == (1, 1)
    finally:
        await slow.close()
        await fast.close()


async def test_malformed_entry_goes_to_dead_letter(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    f = RedisFrontier(redis_url, "dead", prefetch=1)
    await f.open()
    try:
        await f.add(reqs("good1", "bad", "good2"))
        client: aioredis.Redis = f._link.client
        await client.hset(f.keys.data, "2", b"\xc1not msgpack")
        caplog.set_level(logging.ERROR, logger="corocrawl.redis._frontier")
        urls = []
        for _ in range(3):
            request = await f.lease(0.2)
            if request is not None:
                urls.append(request.request.url.rsplit("/", 1)[1])
                await f.settle([Outcome(request, "done")])
        assert urls == ["good1", "good2"]
        assert await client.hget(f.keys.dead, "2") == b"\xc1not msgpack"
        assert b"msgpack" in (await client.hget(f.keys.dead_why, "2") or b"")
        assert "malformed request 2" in caplog.text
        assert not await f.has_pending()
        # A well-formed msgpack that is not a request is refused the same way.
        await f.add(reqs("evil"))
        await client.hset(f.keys.data, "4", b"\x81\xa3url\xc0")
        assert await f.lease(0.2) is None
        assert await client.hexists(f.keys.dead, "4")
    finally:
        await f.close()


async def test_unserialisable_meta_is_a_clear_error(frontier: RedisFrontier) -> None:
    from corocrawl._exceptions import StorageError

    with pytest.raises(StorageError, match="msgpack"):
        await frontier.add([Request("http://127.0.0.1:9/m", meta={"obj": object()})])


async def test_many_concurrent_leasers_share_the_work(redis_url: str) -> None:
    workers = [RedisFrontier(redis_url, "many", prefetch=3) for _ in range(3)]
    for w in workers:
        await w.open()
    try:
        await workers[0].add(reqs(*(f"n{i}" for i in range(300))))
        seen: list[str] = []

        async def consume(f: RedisFrontier) -> None:
            while await f.has_pending():
                request = await f.lease(0.05)
                if request is not None:
                    seen.append(request.request.url)
                    await f.settle([Outcome(request, "done")])

        async with asyncio.timeout(20):
            await asyncio.gather(*(consume(w) for w in workers for _ in range(4)))
        assert len(seen) == 300 and len(set(seen)) == 300
    finally:
        for w in workers:
            await w.close()
