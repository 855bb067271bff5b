"""The Fetcher's connection pool: open sockets stay under concurrency + a few idle ones."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from corocrawl import CrawlConfig, Request
from corocrawl._fetcher import IDLE_SOCKETS_SLACK, Fetcher, PooledConnector

Handler = Callable[[web.Request], Awaitable[web.Response]]


@asynccontextmanager
async def many_hosts(page: Handler, count: int) -> AsyncIterator[list[int]]:
    """One app answering ``/`` on ``count`` loopback ports (each port a host); the ports."""
    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    ports = []
    try:
        for _ in range(count):
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        yield ports
    finally:
        await runner.cleanup()


async def test_idle_sockets_to_many_hosts_are_capped() -> None:
    open_sockets: set[object] = set()

    async def page(request: web.Request) -> web.Response:
        open_sockets.add(request.transport)
        return web.Response(text="ok")

    async with many_hosts(page, 40) as ports:
        config = dataclasses.replace(CrawlConfig(), concurrency=4)
        async with Fetcher(config) as fetcher:
            for port in ports:
                response = await fetcher.fetch(Request(f"http://127.0.0.1:{port}/"))
                assert response.status == 200
            connector = fetcher.session.connector
            idle = sum(len(conns) for conns in connector._conns.values())  # type: ignore[union-attr]
            assert idle <= 4 + IDLE_SOCKETS_SLACK
            # A host fetched again recently still reuses its kept-alive socket.
            before = len(open_sockets)
            await fetcher.fetch(Request(f"http://127.0.0.1:{ports[-1]}/"))
            assert len(open_sockets) == before
        assert len(open_sockets) == 40


async def test_new_connections_make_room_among_idle_sockets() -> None:
    # Idle sockets were trimmed only on release, so connecting to new hosts while
    # others sat idle went past concurrency + slack (106 open at concurrency 64).
    seen_open: list[int] = []
    connector: PooledConnector | None = None
    all_in_flight = asyncio.Barrier(4)

    async def page(request: web.Request) -> web.Response:
        assert connector is not None
        seen_open.append(connector.open_sockets())
        await all_in_flight.wait()  # the four of a batch answer together
        return web.Response(text="ok")

    async with many_hosts(page, 24) as ports:
        config = dataclasses.replace(CrawlConfig(), concurrency=4)
        async with Fetcher(config) as fetcher:
            connector = fetcher.session.connector  # type: ignore[assignment]
            assert isinstance(connector, PooledConnector)
            for batch in range(6):  # four new hosts at a time, the previous four idle
                hosts = ports[4 * batch:4 * batch + 4]
                responses = await asyncio.gather(
                    *(fetcher.fetch(Request(f"http://127.0.0.1:{port}/")) for port in hosts))
                assert [r.status for r in responses] == [200] * 4
                assert connector.open_sockets() <= 4 + IDLE_SOCKETS_SLACK
        assert len(seen_open) == 24
        assert max(seen_open) <= 4 + IDLE_SOCKETS_SLACK
