"""Injected faults are deterministic, recover within three attempts, and latency holds."""

from __future__ import annotations

import asyncio
import contextlib
import time

from corocrawl.demo import DemoConfig, DemoServer, expected_items, transient_fault
from corocrawl.demo._stats import RESET


async def attempt(server: DemoServer, path: str) -> tuple[int, str | None]:
    """Status and Retry-After of one request; status 0 (RESET) for no answer.

    A raw HTTP/1.1 exchange on a fresh connection: aiohttp's client silently
    retries a request whose connection closed before the answer, which would
    hide the reset (and use up an attempt).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "User-Agent: Mozilla/5.0 (X11)\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        async with asyncio.timeout(10):
            raw = await reader.read()
    except ConnectionResetError:
        return RESET, None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    if not raw:
        return RESET, None
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), headers.get("Retry-After")


async def statuses(server: DemoServer, path: str, tries: int = 3) -> list[int]:
    return [(await attempt(server, path))[0] for _ in range(tries)]


def test_transient_fault_is_a_pure_function() -> None:
    config = DemoConfig(error_rate=0.5, seed=11)
    paths = [f"/subject/{n}/" for n in range(400)]
    first = [[transient_fault(config, p, a) for a in (1, 2, 3)] for p in paths]
    again = [[transient_fault(config, p, a) for a in (1, 2, 3)] for p in paths]
    assert first == again
    assert all(row[2] is None for row in first), "the third attempt always succeeds"
    failed_first = sum(row[0] is not None for row in first)
    assert 150 < failed_first < 250, "about half of the first attempts fail"
    kinds = {kind for row in first for kind in row if kind}
    assert kinds == {"500", "503", "reset"}
    other_seed = DemoConfig(error_rate=0.5, seed=12)
    assert first != [[transient_fault(other_seed, p, a) for a in (1, 2, 3)] for p in paths]
    assert all(transient_fault(DemoConfig(), p, 1) is None for p in paths)


async def test_every_detail_page_recovers_by_the_third_attempt(start_demo_server) -> None:
    config = DemoConfig(movies=30, error_rate=1.0, seed=5)
    server = await start_demo_server(config)
    seen: set[int] = set()
    retry_after = set()
    for item in expected_items(config):
        path = item["url_path"]
        results = [await attempt(server, path) for _ in range(3)]
        codes = [code for code, _ in results]
        assert codes[:2] != [200, 200] and codes[2] == 200, (path, codes)
        assert codes[0] != codes[1], "the kinds rotate between attempts"
        seen.update(codes[:2])
        retry_after.update(after for code, after in results if code == 503)
    assert seen == {500, 503, RESET}
    assert retry_after == {"1"}
    # The server's record agrees with what the client saw.
    assert set(server.stats.snapshot()["fetches"].values()) == {3}


async def test_same_seed_gives_the_same_fault_sequence(start_demo_server) -> None:
    config = DemoConfig(movies=20, error_rate=0.4, seed=9)
    runs = []
    for _ in range(2):
        server = await start_demo_server(config)
        runs.append(
            [await statuses(server, i["url_path"]) for i in expected_items(config)]
        )
    assert runs[0] == runs[1]
    assert any(s[0] != 200 for s in runs[0]) and any(s[0] == 200 for s in runs[0])
    assert all(s[-1] == 200 for s in runs[0])


async def test_reset_stats_restarts_attempt_numbering(start_demo_server) -> None:
    config = DemoConfig(movies=10, error_rate=1.0, seed=2)
    server = await start_demo_server(config)
    path = expected_items(config)[0]["url_path"]
    before = await statuses(server, path)
    server.stats.reset()
    assert server.stats.total == 0
    assert await statuses(server, path) == before


async def test_fail_rate_pages_always_fail(start_demo_server, browser_session) -> None:
    config = DemoConfig(movies=40, fail_rate=0.5, seed=4)
    server = await start_demo_server(config)
    items = expected_items(config)
    failing = [i for i in items if i["poster_path"] is None]
    assert len(failing) == 20, "exactly half the detail pages fail"
    for item in items:
        codes = await statuses(server, item["url_path"], tries=4)
        if item["poster_path"] is None:
            assert codes == [500] * 4
        else:
            assert codes == [200] * 4
    # The list page still lists every movie.
    async with browser_session.get(server.url("/cinema/later/beijing/")) as resp:
        assert (await resp.text()).count('class="item mod') == 40


async def test_latency_is_applied(start_demo_server) -> None:
    server = await start_demo_server(movies=5, latency=(0.2, 0.3))
    started = time.monotonic()
    await attempt(server, "/robots.txt")
    assert time.monotonic() - started >= 0.2
    # Concurrent requests wait in parallel, not in turn.
    started = time.monotonic()
    await asyncio.gather(*(attempt(server, "/robots.txt") for _ in range(10)))
    elapsed = time.monotonic() - started
    assert elapsed >= 0.2
