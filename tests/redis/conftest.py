"""A real redis-server for the Redis tests, started on a free loopback port.

Without the binary the tests skip with a loud reason; in CI (``CI=true``) a
missing redis-server is a failure, because CI must run these tests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis_server import REDIS_SERVER, RedisServer

try:
    import redis  # noqa: F401  (the [redis] extra)
except ImportError:  # pragma: no cover - only without the extra
    if os.environ.get("CI", "").lower() == "true":
        raise
    import sys

    # Loud, but not a warning: filterwarnings=error would turn it into a failure.
    print(
        "\n*** SKIPPING REDIS TESTS: the redis package is missing "
        "(pip install 'corocrawl[redis]') ***",
        file=sys.stderr,
    )
    collect_ignore_glob = ["test_*.py"]


def _require_binary() -> None:
    if Path(REDIS_SERVER).exists():
        return
    message = (
        f"redis-server not found at {REDIS_SERVER}: install Debian's redis-server "
        "(apt-get install redis-server) to run the Redis tests"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(f"SKIPPING REDIS TESTS: {message}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server shared by the session; tests use distinct crawl names or flush."""
    _require_binary()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for one test that may stop and restart it."""
    _require_binary()
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The shared server's URL, flushed before each test."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server.url
