"""MemoryFrontier beyond the contract: bounded memory without losing a request."""

from __future__ import annotations

from corocrawl import Request
from corocrawl.frontier import FixedPacing, MemoryFrontier, Outcome


def req(site: str, path: str) -> Request:
    return Request(f"http://{site}.test/{path}", "page")


async def test_past_max_pending_requests_spill_and_all_come_back() -> None:
    frontier = MemoryFrontier(max_pending=10)
    await frontier.open()
    try:
        assert await frontier.add([req("a", str(i)) for i in range(100)]) == 100
        assert frontier.spilled == 90
        assert (await frontier.counts()).pending == 100
        # A URL that spilled is still "seen", and still queued: adding it is a no-op.
        assert await frontier.add([req("a", "99")]) == 0
        got = []
        for _ in range(200):
            lease = await frontier.lease(0)
            if lease is None:
                break
            got.append(lease.request.url)
            # A retry of a request taken from a full queue always finds room.
            if lease.request.url.endswith("/0") and lease.request.attempt == 0:
                lease.request.attempt = 1
                await frontier.settle([Outcome(lease, "retry")])
            else:
                await frontier.settle([Outcome(lease, "done")])
        assert len(set(got)) == 100 and len(got) == 101
        assert not await frontier.has_pending()
    finally:
        await frontier.close()


async def test_idle_hosts_are_forgotten() -> None:
    frontier = MemoryFrontier(pacing=FixedPacing(per_host=2))
    await frontier.add([req(f"h{i}", "1") for i in range(500)])
    for _ in range(500):
        lease = await frontier.lease(0)
        assert lease is not None
        await frontier.release(lease)
        await frontier.settle([Outcome(lease, "done")])
    assert frontier.hosts == 0
    assert await frontier.lease(0) is None
