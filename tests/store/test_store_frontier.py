"""The SQLite frontier against the Frontier contract, on real database files."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from corocrawl._request import Request
from corocrawl.frontier import FixedPacing, Frontier, FrontierCounts, Outcome
from corocrawl.sinks import ItemSink
from corocrawl.store import SqliteStore


def req(path: str, **kwargs: object) -> Request:
    return Request(f"http://site.test:8080/{path}", callback="page", **kwargs)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "crawl.db"


async def drain(frontier: SqliteStore | object, limit: int = 10_000) -> list[Request]:
    """Lease everything ready now, settling each done."""
    assert isinstance(frontier, Frontier)
    got: list[Request] = []
    for _ in range(limit):
        lease = await frontier.lease(0)
        if lease is None:
            return got
        got.append(lease.request)
        await frontier.settle([Outcome(lease, "done")])
    raise AssertionError("drain did not finish")


def test_implements_the_protocols(db: Path) -> None:
    store = SqliteStore(db)
    assert isinstance(store.frontier, Frontier)
    assert isinstance(store.sink, ItemSink)


async def test_add_dedups_by_fingerprint(db: Path) -> None:
    async with SqliteStore(db) as store:
        f = store.frontier
        assert await f.add([req("a"), req("b"), req("a")]) == 2
        assert await f.add([req("a"), req("b")]) == 0
        assert await f.add([req("a", dont_filter=True), req("a", dont_filter=True)]) == 2
        assert await f.add([]) == 0
        assert await f.counts() == FrontierCounts(pending=4, in_flight=0, done=0, failed=0)
        urls = [r.url for r in await drain(f)]
    assert sorted(urls).count("http://site.test:8080/a") == 3
    assert urls.count("http://site.test:8080/b") == 1


async def test_dedup_survives_reopen_and_done_is_not_leased_again(db: Path) -> None:
    async with SqliteStore(db) as store:
        await store.frontier.add([req(str(i)) for i in range(20)])
        first = [await store.frontier.lease(0) for _ in range(5)]
        await store.frontier.settle([Outcome(r, "done") for r in first if r is not None])
    async with SqliteStore(db) as store:
        f = store.frontier
        assert await f.add([req(str(i)) for i in range(25)]) == 5
        assert await f.counts() == FrontierCounts(pending=20, in_flight=0, done=5, failed=0)
        rest = {r.url for r in await drain(f)}
    assert len(rest) == 20
    assert not rest & {r.request.url for r in first if r is not None}


async def test_lease_order_priority_then_fifo(db: Path) -> None:
    async with SqliteStore(db) as store:
        f = store.frontier
        await f.add([req("low1", priority=-1), req("mid1"), req("high1", priority=5),
                     req("mid2"), req("high2", priority=5), req("low2", priority=-1)])
        order = [r.url.rsplit("/", 1)[1] for r in await drain(f)]
    assert order == ["high1", "high2", "mid1", "mid2", "low1", "low2"]


async def test_request_round_trips(db: Path) -> None:
    original = Request("http://site.test:8080/x?q=1", callback="detail", method="POST",
                       headers={"X-A": "b"}, body=b"k=v", meta={"movie": {"id": 7}}, depth=3,
                       priority=2, referrer="http://site.test:8080/")
    async with SqliteStore(db) as store:
        await store.frontier.add([original])
    async with SqliteStore(db) as store:
        got = await store.frontier.lease(0)
    assert got is not None
    assert got.request.to_dict() == original.to_dict()
    assert got.request.fingerprint == original.fingerprint


async def test_lease_times_out_and_wakes_on_add(db: Path) -> None:
    async with SqliteStore(db) as store:
        f = store.frontier
        started = time.monotonic()
        assert await f.lease(0.1) is None
        assert 0.08 <= time.monotonic() - started < 1.0
        assert await f.lease(0) is None

        async def add_later() -> None:
            await asyncio.sleep(0.1)
            await f.add([req("late")])

        async with asyncio.TaskGroup() as group:
            group.create_task(add_later())
            started = time.monotonic()
            got = await f.lease(5)
        assert got is not None and got.request.url.endswith("/late")
        assert time.monotonic() - started < 2


async def test_retry_waits_for_not_before_and_keeps_attempt(db: Path) -> None:
    async with SqliteStore(db) as store:
        f = store.frontier
        await f.add([req("flaky"), req("fine")])
        flaky = await f.lease(0)
        assert flaky is not None and flaky.request.url.endswith("/flaky")
        flaky.request.attempt += 1
        flaky.request.not_before = time.time() + 0.4
        await f.settle([Outcome(flaky, "retry", error="http: 503 Service Unavailable")])
        assert await f.has_pending()
        fine = await f.lease(0)
        assert fine is not None and fine.request.url.endswith("/fine")
        await f.settle([Outcome(fine, "done")])
        assert await f.lease(0.05) is None  # not ready yet
        started = time.monotonic()
        again = await f.lease(3)
        waited = time.monotonic() - started
        assert again is not None and again.request.url.endswith("/flaky")
        assert again.request.attempt == 1
        assert 0.2 <= waited < 2
        await f.settle([Outcome(again, "failed", error="http: 503 Service Unavailable")])
        assert not await f.has_pending()
        assert await f.counts() == FrontierCounts(pending=0, in_flight=0, done=1, failed=1)


async def test_settle_adds_children_with_dedup_atomically(db: Path) -> None:
    async with SqliteStore(db) as store:
        f = store.frontier
        await f.add([req("list")])
        parent = await f.lease(0)
        assert parent is not None
        children = [req("d1"), req("d2"), req("d1"), req("list")]
        await f.settle([Outcome(parent, "done", children=children)])
        assert await f.counts() == FrontierCounts(pending=2, in_flight=0, done=1, failed=0)
        assert sorted(r.url[-2:] for r in await drain(f)) == ["d1", "d2"]


async def test_has_pending_and_counts_track_every_state(db: Path) -> None:
    async with SqliteStore(db) as store:
        f = store.frontier
        assert not await f.has_pending()
        await f.add([req("a"), req("b"), req("c")])
        assert await f.has_pending()
        a, b, c = [await f.lease(0) for _ in range(3)]
        assert await f.counts() == FrontierCounts(pending=0, in_flight=3, done=0, failed=0)
        await f.settle([Outcome(a, "done")])
        await f.settle([Outcome(b, "failed", error="timeout: read timed out")])
        assert await f.has_pending()  # c is in flight
        await f.settle([Outcome(c, "done")])
        await f.settle([Outcome(c, "done")])  # twice: harmless
        assert not await f.has_pending()
        assert await f.counts() == FrontierCounts(pending=0, in_flight=0, done=2, failed=1)


async def test_prefetched_rows_return_to_pending_on_close(db: Path) -> None:
    async with SqliteStore(db, prefetch=50) as store:
        await store.frontier.add([req(str(i)) for i in range(100)])
        one = await store.frontier.lease(0)  # buffers 50, hands out 1
        assert one is not None
        counts = await store.frontier.counts()
        assert counts == FrontierCounts(pending=99, in_flight=1, done=0, failed=0)
    async with SqliteStore(db) as store:
        # the one handed out was in flight at close: recovered as pending too
        assert store.recovered == 1
        assert await store.frontier.counts() == FrontierCounts(100, 0, 0, 0)


async def test_cancelled_lease_loses_nothing(db: Path) -> None:
    async with SqliteStore(db, prefetch=10) as store:
        f = store.frontier
        waiter = asyncio.create_task(f.lease(5))
        await asyncio.sleep(0.05)
        await f.add([req(str(i)) for i in range(30)])
        waiter.cancel()
        got: list[Request | None] = []
        with contextlib.suppress(asyncio.CancelledError):
            lease = await waiter
            got.append(lease.request if lease is not None else None)
            if lease is not None:
                await f.settle([Outcome(lease, "done")])
        got.extend(await drain(f))
        assert len({r.url for r in got if r is not None}) == 30
        assert not await f.has_pending()


async def test_many_workers_lease_each_request_once(db: Path) -> None:
    async with SqliteStore(db, prefetch=16) as store:
        f = store.frontier
        await f.add([req(f"p{i}") for i in range(200)])
        seen: list[str] = []

        async def worker(n: int) -> None:
            for _ in range(1000):
                lease = await f.lease(0.02)
                if lease is None:
                    if not await f.has_pending():
                        return
                    continue
                seen.append(lease.request.url)
                kids = [req(f"c{n}-{len(seen)}")] if lease.request.url.rsplit(
                    "/", 1)[1].startswith("p") else []
                await f.settle([Outcome(lease, "done", children=kids)])

        async with asyncio.timeout(30), asyncio.TaskGroup() as group:
            for n in range(16):
                group.create_task(worker(n))
        assert len(seen) == len(set(seen)) == 400
        assert await f.counts() == FrontierCounts(0, 0, 400, 0)


async def test_a_one_site_queue_at_its_cap_is_read_once_not_per_settle(db: Path) -> None:
    """Issue 13's regression: with the only site at its cap, every lease that found
    nothing re-ran the pass-over-busy-sites query, which reads every queued row of
    that site (1,000,000 queued: 901 lease+settle/s). Once it has found nothing, more
    rows of the same site do not make it worth running again; a row of another site does.
    """
    async with SqliteStore(db, prefetch=16) as store:
        f = store.frontier
        f.pacing = FixedPacing(per_host=2)
        await f.add([req(f"p{i}") for i in range(500)])
        statements: list[str] = []

        def trace(conn: sqlite3.Connection, deltas: object) -> None:
            conn.set_trace_callback(statements.append)

        await store.writer.run(trace)
        leased: list[str] = []
        for round_ in range(100):
            leases = [lease for _ in range(3) if (lease := await f.lease(0)) is not None]
            assert len(leases) == 2  # the cap, never more
            leased += [lease.request.url for lease in leases]
            await f.settle([Outcome(lease, "done", children=[req(f"c{round_}-{i}")])
                            for i, lease in enumerate(leases)])
        passes_over = [s for s in statements if "json_each" in s]
        assert len(passes_over) <= 2, len(passes_over)
        assert len(leased) == len(set(leased)) == 200

        other = Request("http://other.test/x", callback="page")
        held = [lease for _ in range(3) if (lease := await f.lease(0)) is not None]
        assert len(held) == 2
        await f.add([other])
        got = await f.lease(0)  # site.test is at its cap: the new site's row is found
        assert got is not None and got.request.url == other.url


async def test_fresh_wipes_the_crawl_and_says_so(db: Path, caplog: pytest.LogCaptureFixture,
                                               ) -> None:
    async with SqliteStore(db) as store:
        await store.frontier.add([req("a")])
        await store.sink.write([("k", {"a": 1})])
    store = SqliteStore(db, fresh=True)
    with caplog.at_level("WARNING"):
        async with store:
            assert await store.frontier.counts() == FrontierCounts(0, 0, 0, 0)
            assert await store.frontier.add([req("a")]) == 1
    async with store:  # the same store opened again (a second crawl) does not wipe again
        assert await store.frontier.counts() == FrontierCounts(1, 0, 0, 0)
    assert any("starting over" in r.getMessage() and "1 requests and 1 items" in r.getMessage()
               for r in caplog.records)


async def test_frontier_and_sink_share_one_open(db: Path) -> None:
    store = SqliteStore(db)
    await store.frontier.open()
    await store.sink.open()
    await store.sink.write([("k", {"v": 1})])
    await store.sink.close()
    assert await store.frontier.add([req("still-open")]) == 1  # frontier still usable
    await store.frontier.close()
    with pytest.raises(Exception, match="not open"):
        await store.frontier.add([req("closed")])
