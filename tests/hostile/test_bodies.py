"""F1, F6: every body limit counts the bytes the crawler holds, on every fetch path."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from corocrawl import CrawlConfig, Request
from corocrawl._fetcher import Fetcher
from corocrawl._posters import download_posters
from corocrawl._robots import ROBOTS_MAX_BYTES, RobotsPolicy, SideFetcher
from corocrawl._sitemaps import discover

from .conftest import HOSTILE, crawl
from .server import JPEG_MAGIC, MIB, HostileServer, compressed_zeros

#: The bomb: 256 MiB of zeros, about 1 MB compressed (under no cap of ours).
BOMB_MIB = 256


@contextmanager
def peak_allocated() -> Iterator[list[int]]:
    """The peak of Python memory allocated inside the block, in bytes (list of one)."""
    peak = [0]
    tracemalloc.start()
    try:
        yield peak
        peak[0] = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_bomb_page_is_cut_at_the_cap(
    hostile: HostileServer, encoding: str
) -> None:
    compressed_zeros(encoding, BOMB_MIB)  # built before measuring
    cap = 4 * MIB
    with peak_allocated() as peak:
        async with Fetcher(CrawlConfig(max_body=cap)) as fetcher:
            response = await fetcher.fetch(
                Request(hostile.url(f"/bomb/{encoding}/{BOMB_MIB}"), "page"))
    assert response.truncated
    assert len(response.body) == cap
    # On main: the whole 256 MiB was inflated and held (peak > 500 MiB).
    assert peak[0] < 3 * cap, f"held {peak[0] / MIB:.0f} MiB for a {cap / MIB:.0f} MiB cap"


async def test_bomb_page_is_recorded_as_cut(hostile: HostileServer, tmp_path: Path) -> None:
    hostile.page("/", '<a href="/bomb/gzip/64">bomb</a>')
    _, pages = await crawl(hostile, "/", tmp_path / "c.db")
    bomb = pages["/bomb/gzip/64"]
    assert bomb["bytes"] == HOSTILE.max_body
    assert "size limit" in str(bomb["error"])


async def test_side_fetcher_bomb_is_cut_at_its_limit(hostile: HostileServer) -> None:
    compressed_zeros("gzip", BOMB_MIB)
    limit = 2 * MIB
    with peak_allocated() as peak:
        async with SideFetcher(user_agent="t") as side:
            fetched = await side.get(hostile.url(f"/bomb/gzip/{BOMB_MIB}"), max_bytes=limit)
    assert fetched.truncated and len(fetched.body) == limit
    assert peak[0] < 3 * limit, f"held {peak[0] / MIB:.0f} MiB for a {limit / MIB:.0f} MiB limit"


async def test_robots_of_300_kb_is_read_to_the_end(
    hostile: HostileServer, tmp_path: Path
) -> None:
    # A Disallow rule 200 KB into a 300 KB robots.txt (the limit is 512 KiB).
    filler = "".join(f"Allow: /public/{i:06d}\n" for i in range(10_000))  # ~220 KB
    robots = f"User-agent: *\n{filler}Disallow: /secret\n{filler[:80_000]}"
    assert 200_000 < robots.index("Disallow") < len(robots) < ROBOTS_MAX_BYTES
    hostile.page("/robots.txt", robots, content_type="text/plain")
    hostile.page("/", '<a href="/secret">s</a><a href="/open">o</a>')
    hostile.page("/open", "<p>open</p>")
    hostile.page("/secret", "<p>secret</p>")
    await crawl(hostile, "/", tmp_path / "c.db")
    assert hostile.fetched("/open") == 1
    assert hostile.fetched("/secret") == 0


async def test_robots_past_the_limit_is_reported_truncated(hostile: HostileServer) -> None:
    hostile.page("/robots.txt", "#" * (ROBOTS_MAX_BYTES + 10), content_type="text/plain")
    async with SideFetcher(user_agent="t") as side:
        fetched = await side.get(hostile.url("/robots.txt"), max_bytes=ROBOTS_MAX_BYTES)
    assert fetched.truncated
    assert len(fetched.body) == ROBOTS_MAX_BYTES


async def test_sitemap_of_1_mb_lists_all_its_urls(hostile: HostileServer) -> None:
    urls = [hostile.url(f"/page/{i:05d}-{'x' * 20}") for i in range(20_000)]
    body = "<urlset>" + "".join(f"<url><loc>{u}</loc></url>" for u in urls) + "</urlset>"
    assert len(body) > 1_100_000
    hostile.page("/sitemap.xml", body, content_type="application/xml")
    async with SideFetcher(user_agent="t") as side:
        robots = RobotsPolicy(side, user_agent="t")
        found = await discover(side, robots, [hostile.url("/")])
    assert found.errors == []
    assert found.urls == urls


async def test_poster_bomb_is_refused_within_its_limit(
    hostile: HostileServer, tmp_path: Path
) -> None:
    compressed_zeros("gzip", BOMB_MIB, JPEG_MAGIC)
    limit = 2 * MIB
    bomb = hostile.url(f"/bomb/gzip/{BOMB_MIB}?type=image/jpeg")
    items = [{"subject_id": "1", "poster_url": bomb}]
    with peak_allocated() as peak:
        report = await download_posters(items, tmp_path, max_bytes=limit, retries=0)
    [result] = report.results
    assert result.status == "failed" and "too large" in str(result.error)
    assert peak[0] < 3 * limit, f"held {peak[0] / MIB:.0f} MiB for a {limit / MIB:.0f} MiB limit"
    assert _files(tmp_path) == []
