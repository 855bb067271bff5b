"""The replica counts fetches, attempts and concurrency, overall and per Host."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from corocrawl.demo import DemoServerThread, expected_items
from corocrawl.demo._stats import DemoStats


async def test_stats_count_fetches_attempts_and_log(demo_server, browser_session) -> None:
    items = expected_items(demo_server.config)
    paths = ["/cinema/later/beijing/", items[0]["url_path"], items[0]["url_path"], "/nowhere"]
    for path in paths:
        async with browser_session.get(demo_server.url(path)) as resp:
            await resp.read()
    stats = demo_server.stats
    assert stats.total == 4
    assert stats.count(items[0]["url_path"]) == 2
    assert stats.outcomes[(items[0]["url_path"], 2)] == 200
    assert stats.outcomes[("/nowhere", 1)] == 404
    host = f"127.0.0.1:{demo_server.port}"
    assert [(p, h) for _, p, h in stats.log] == [(p, host) for p in paths]
    times = [t for t, _, _ in stats.log]
    assert times == sorted(times)
    assert stats.in_flight == 0 and stats.max_in_flight == 1


async def test_stats_json_endpoint_is_not_counted(demo_server, browser_session) -> None:
    async with browser_session.get(demo_server.url("/robots.txt")) as resp:
        await resp.read()
    for _ in range(2):
        async with browser_session.get(demo_server.url("/_demo/stats")) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            data = orjson.loads(await resp.read())
    assert data["total"] == 1
    assert data["fetches"] == {"/robots.txt": 1}
    assert data["outcomes"] == [["/robots.txt", 1, 200]]
    assert len(data["log"]) == 1
    async with browser_session.get(demo_server.url("/_demo/stats?log=0")) as resp:
        assert orjson.loads(await resp.read())["log"] == []
    async with browser_session.post(demo_server.url("/_demo/reset")) as resp:
        assert resp.status == 204
    async with browser_session.get(demo_server.url("/_demo/stats")) as resp:
        assert orjson.loads(await resp.read())["total"] == 0


async def test_concurrency_is_counted_overall_and_per_host(
    start_demo_server, browser_session
) -> None:
    server = await start_demo_server(movies=5, latency=(0.3, 0.3))
    hosts = [f"127.0.0.1:{server.port}", f"alias.test:{server.port}"]

    async def fetch(host: str) -> None:
        async with browser_session.get(server.url("/robots.txt"), headers={"Host": host}) as r:
            await r.read()

    await asyncio.gather(*(fetch(hosts[0]) for _ in range(6)), *(fetch(hosts[1]) for _ in range(3)))
    stats = server.stats
    # All nine overlap in their 0.3 s sleep: each started before any finished.
    assert stats.max_in_flight == 9
    assert stats.max_in_flight_by_host == {hosts[0]: 6, hosts[1]: 3}
    assert stats.in_flight == 0
    assert all(n == 0 for n in stats.in_flight_by_host.values())
    assert {h for _, _, h in stats.log} == set(hosts)


def test_stats_reset_keeps_requests_in_flight() -> None:
    stats = DemoStats()
    first = stats.begin("/a", "h")
    stats.begin("/b", "h")
    stats.end("/b", 1, "h", 200)
    stats.reset()
    assert stats.total == 0 and stats.max_in_flight == 1 and stats.in_flight == 1
    assert stats.begin("/a", "h") == 1, "attempt numbering restarts"
    stats.end("/a", first, "h", 200)


def test_thread_server_serves_sync_code() -> None:
    import urllib.request

    with DemoServerThread(use_uvloop=True) as server:
        request = urllib.request.Request(
            server.url("/cinema/later/beijing/"), headers={"User-Agent": "Mozilla/5.0"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 200
            assert "北京影讯" in resp.read().decode()
        assert server.stats.count("/cinema/later/beijing/") == 1
        port = server.port
    # Closed: the port no longer answers.
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/robots.txt", timeout=2)
    except OSError:
        pass
    else:
        raise AssertionError("the server still answers after stop()")


def test_thread_server_reports_a_taken_port() -> None:
    with DemoServerThread() as first:
        taken = DemoServerThread(port=first.port)
        try:
            taken.start()
        except OSError:
            pass
        else:
            taken.stop()
            raise AssertionError("a second server bound the same port")


async def test_server_closes_with_open_client_connections(start_demo_server) -> None:
    server = await start_demo_server(movies=3)
    async with aiohttp.ClientSession(headers={"User-Agent": "Mozilla/5.0"}) as session:
        async with session.get(server.url("/robots.txt")) as resp:
            await resp.read()
        await server.close()  # a kept-alive connection is open
        await server.close()  # twice is fine
