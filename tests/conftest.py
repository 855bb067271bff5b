"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from corocrawl.demo import DemoConfig, DemoServer
from docs_site import docs_site  # noqa: F401  (a fixture: a small docs site on loopback)
from redis_server import REDIS_SERVER, RedisServer

# A browser's User-Agent: the replica (like douban) answers 418 to anything else.
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


@pytest.fixture
async def demo_server(request: pytest.FixtureRequest) -> AsyncIterator[DemoServer]:
    """The replica site on a free port of 127.0.0.1: 40 movies in beijing, seed 1.

    Parametrize indirectly with a ``DemoConfig`` for another shape::

        @pytest.mark.parametrize("demo_server", [DemoConfig(movies=5)], indirect=True)
    """
    config = getattr(request, "param", None) or DemoConfig(movies=40, seed=1)
    async with DemoServer(config) as server:
        yield server


@pytest.fixture
async def start_demo_server() -> AsyncIterator[Callable[..., Awaitable[DemoServer]]]:
    """A factory: ``server = await start_demo_server(movies=200, error_rate=0.2)``.

    Takes a ``DemoConfig`` or its fields as keywords; every server is closed at teardown.
    """
    servers: list[DemoServer] = []

    async def start(config: DemoConfig | None = None, **fields: Any) -> DemoServer:
        server = DemoServer(config or DemoConfig(**fields))
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def browser_session() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session that sends a browser's User-Agent."""
    async with aiohttp.ClientSession(headers={"User-Agent": BROWSER_UA}) as session:
        yield session


# -- Redis: one redis-server for the session, for tests/redis, tests/frontier and the docs --


def _require_redis() -> None:
    """Skip, saying why, without redis-server or the redis package; in CI (CI=true), fail."""
    problem = None
    if not Path(REDIS_SERVER).exists():
        problem = (f"redis-server not found at {REDIS_SERVER}: install Debian's redis-server "
                   "(apt-get install redis-server) to run the Redis tests")
    else:
        try:
            import redis  # noqa: F401  (the [redis] extra)
        except ImportError:  # pragma: no cover - only without the extra
            problem = "the redis package is missing: pip install 'corocrawl[redis]'"
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {problem}", pytrace=False)
    pytest.skip(f"SKIPPING REDIS TESTS: {problem}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port, shared by the session, stopped by PID.

    Tests share it through ``redis_url``, which empties it first.
    """
    _require_redis()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for one test that may stop and restart it."""
    _require_redis()
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The shared server's URL, flushed before each test (tests run one at a time)."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server.url
