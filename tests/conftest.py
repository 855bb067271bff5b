"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from corocrawl.demo import DemoConfig, DemoServer
from docs_site import docs_site  # noqa: F401  (a fixture: a small docs site on loopback)

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
