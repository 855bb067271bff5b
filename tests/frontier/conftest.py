"""Backends for the frontier contract suite: memory, SQLite and a real redis-server."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

# The redis-server helper lives beside the Redis tests; the contract suite starts its own.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "redis"))
from redis_server import REDIS_SERVER, RedisServer


@pytest.fixture(scope="session")
def contract_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer | None]:
    """A redis-server for the suite, or None when the binary or the extra is missing."""
    try:
        import redis  # noqa: F401
    except ImportError:  # pragma: no cover - only without the [redis] extra
        yield None
        return
    if not Path(REDIS_SERVER).exists():  # pragma: no cover
        yield None
        return
    server = RedisServer(tmp_path_factory.mktemp("redis-contract"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_url(contract_redis: RedisServer | None) -> AsyncIterator[str]:
    if contract_redis is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but redis-server or the redis package is missing", pytrace=False)
        pytest.skip("SKIPPING: redis-server or the redis package is missing")
    import redis.asyncio as aioredis

    client = aioredis.from_url(contract_redis.url)
    await client.flushall()
    await client.aclose()
    yield contract_redis.url
