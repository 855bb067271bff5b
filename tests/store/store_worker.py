"""A separate process that uses a crawl database, for the kill and lock tests.

    python store_worker.py hold  DB N     lease N requests, then wait to be killed
    python store_worker.py churn DB       lease/settle/write in a loop until killed

Prints ``ready`` once the interesting state is committed. Bounded: it exits by
itself after 60 s if nobody kills it.
"""

from __future__ import annotations

import asyncio
import sys
import time

from corocrawl._request import Request
from corocrawl.frontier import Outcome
from corocrawl.store import SqliteStore

LIFETIME = 60.0


def url(name: object) -> str:
    return f"http://site.test:8080/{name}"


async def hold(db: str, leases: int) -> None:
    # prefetch=1: exactly the requests leased are in flight, none buffered
    async with SqliteStore(db, prefetch=1) as store:
        f = store.frontier
        await f.add([Request(url(i), callback="page") for i in range(100)])
        first = await f.lease(0)
        assert first is not None
        first.request.attempt += 1  # a retry that was leased again before the crash
        await f.settle([Outcome(first, "retry", error="http: 503 Service Unavailable")])
        again = await f.lease(0)
        assert again is not None and again.request.url == first.request.url
        assert again.request.attempt == 1
        for _ in range(leases):
            assert await f.lease(0) is not None
        print("ready", flush=True)
        await asyncio.sleep(LIFETIME)


async def churn(db: str) -> None:
    async with SqliteStore(db, prefetch=32) as store:
        f = store.frontier
        await f.add([Request(url(f"seed{i}"), callback="page") for i in range(50)])
        deadline = time.monotonic() + LIFETIME
        serial = 0
        announced = False
        while time.monotonic() < deadline:
            batch = []
            for _ in range(20):
                lease = await f.lease(0)
                if lease is None:
                    break
                serial += 1
                kids = [Request(url(f"n{serial}-{k}"), callback="page") for k in range(2)]
                batch.append(Outcome(lease, "done", children=kids))
            await store.sink.write([(o.request.url, {"url": o.request.url, "n": serial})
                                    for o in batch])
            await f.settle(batch)
            if not announced:
                print("ready", flush=True)
                announced = True


def main() -> None:
    mode, db = sys.argv[1], sys.argv[2]
    if mode == "hold":
        asyncio.run(hold(db, int(sys.argv[3])))
    elif mode == "churn":
        asyncio.run(churn(db))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
