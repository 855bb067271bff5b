"""Per-host politeness held in Redis across workers: cap, delay, dead workers' slots."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time

import pytest

from corocrawl._exceptions import MissingExtra
from corocrawl.redis import RedisHostSlots

HOST = "movie.douban.com:443"


async def test_cap_holds_across_workers(redis_url: str) -> None:
    workers = [RedisHostSlots(redis_url, "cap", per_host=3) for _ in range(3)]
    for w in workers:
        await w.open()
    active = peak = served = 0

    async def fetch(slots: RedisHostSlots) -> None:
        nonlocal active, peak, served
        await slots.acquire(HOST)
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        served += 1
        await slots.release(HOST)

    try:
        async with asyncio.timeout(20):
            await asyncio.gather(*(fetch(w) for w in workers for _ in range(20)))
    finally:
        for w in workers:
            await w.close()
    assert served == 60 and peak == 3


async def test_delay_spaces_starts_across_workers(redis_url: str) -> None:
    a = RedisHostSlots(redis_url, "delay", per_host=8, delay=0.1)
    b = RedisHostSlots(redis_url, "delay", per_host=8, delay=0.1)
    await a.open()
    await b.open()
    starts: list[float] = []

    async def fetch(slots: RedisHostSlots) -> None:
        await slots.acquire(HOST)
        starts.append(time.monotonic())
        await slots.release(HOST)

    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(fetch(s) for s in (a, b, a, b, a, b)))
    finally:
        await a.close()
        await b.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # Server-side spacing is exact; client-side stamps carry round-trip jitter.
    assert starts[-1] - starts[0] >= 0.49 and min(gaps) >= 0.06, gaps


async def test_dead_workers_slots_come_back(redis_url: str) -> None:
    dead = RedisHostSlots(redis_url, "ttl", per_host=2, ttl=0.5)
    await dead.open()
    await dead.acquire(HOST)
    await dead.acquire(HOST)
    dead._held.clear()  # SIGKILL: nobody releases or renews these
    await dead.close()
    live = RedisHostSlots(redis_url, "ttl", per_host=2, ttl=5)
    await live.open()
    try:
        started = time.monotonic()
        async with asyncio.timeout(5):
            await live.acquire(HOST)
        assert 0.3 < time.monotonic() - started < 2.0
    finally:
        await live.close()


async def test_live_worker_renews_its_slots(redis_url: str) -> None:
    # ttl 1 s, renewed every 1/3 s; a loaded 2-core machine can stall a loop ~0.3 s.
    holder = RedisHostSlots(redis_url, "renew", per_host=1, ttl=1.0)
    other = RedisHostSlots(redis_url, "renew", per_host=1, ttl=1.0)
    await holder.open()
    await other.open()
    try:
        await holder.acquire(HOST)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.6):  # > ttl: renewed, never expired
                await other.acquire(HOST)
        await holder.release(HOST)
        async with asyncio.timeout(2):
            await other.acquire(HOST)
        await other.release(HOST)
    finally:
        await holder.close()
        await other.close()


def test_missing_client_gives_one_line_with_the_fix() -> None:
    # A child interpreter where `import redis` fails, as without the extra.
    code = (
        "import sys; sys.modules['redis'] = None; sys.modules['redis.asyncio'] = None\n"
        "from corocrawl.redis import RedisFrontier\n"
        "try:\n    RedisFrontier('redis://127.0.0.1:1/0')\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    assert (
        out
        == f"{MissingExtra.__name__} --redis needs the Redis client: pip install 'corocrawl[redis]'"
    )


async def test_wrong_url_fails_in_one_line_not_an_endless_outage() -> None:
    import socket

    from corocrawl._exceptions import StorageError
    from corocrawl.redis import RedisFrontier

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    frontier = RedisFrontier(f"redis://127.0.0.1:{port}/0", "nowhere")
    started = time.monotonic()
    with pytest.raises(
        StorageError, match=r"cannot reach Redis at redis://127\.0\.0\.1:.*redis-server"
    ):
        async with asyncio.timeout(15):
            await frontier.open()
    assert time.monotonic() - started < 8
    await frontier._link.close()
