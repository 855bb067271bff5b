"""robots.txt with protego and sitemap discovery, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
from collections import Counter

import pytest
from aiohttp import web

from corocrawl._robots import RobotsPolicy, SideFetcher
from corocrawl._sitemaps import SitemapError, discover, gunzip_bounded, parse_sitemap

from .conftest import serve
from .site import TrapSite, closed_port

UA = "corocrawl/0.1.0 (+https://pypi.org/project/corocrawl/)"


async def test_robots_fetched_once_per_site_under_concurrency(site: TrapSite) -> None:
    async with SideFetcher(user_agent=UA) as side:
        robots = RobotsPolicy(side, user_agent=UA)
        urls = [site.url(p) for p in ("/a", "/private/x", "/private/open", "/b")] * 10
        answers = await asyncio.gather(*(robots.allowed(u) for u in urls))
    assert answers[:4] == [True, False, True, True]
    assert Counter(site.paths())["/robots.txt"] == 1


async def test_crawl_delay_and_sitemap_lines() -> None:
    trap = TrapSite(crawl_delay=0.25)
    await trap.start()
    try:
        async with SideFetcher(user_agent=UA) as side:
            robots = RobotsPolicy(side, user_agent=UA)
            assert robots.crawl_delay(f"127.0.0.1:{trap.port}") == 0.0  # not fetched yet
            assert await robots.sitemaps(trap.url("/")) == [trap.url("/sitemap_index.xml")]
            assert robots.crawl_delay(f"127.0.0.1:{trap.port}") == 0.25
            bad = RobotsPolicy(side, user_agent="BadBot/1.0")
            assert not await bad.allowed(trap.url("/abs"))
            off = RobotsPolicy(side, user_agent=UA, enabled=False)
            assert await off.allowed(trap.url("/private/x"))
            assert off.crawl_delay(f"127.0.0.1:{trap.port}") == 0.0
    finally:
        await trap.stop()


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (410, True), (503, False)])
async def test_robots_status_rules(status: int, allowed: bool) -> None:
    async def robots_txt(request: web.Request) -> web.Response:
        return web.Response(status=status, text="User-agent: *\nDisallow: /\n")

    app = web.Application()
    app.router.add_get("/robots.txt", robots_txt)
    async with serve(app) as base, SideFetcher(user_agent=UA) as side:
        robots = RobotsPolicy(side, user_agent=UA)
        assert await robots.allowed(base + "/page") is allowed
        reason = await robots.why_not(base + "/page")
        assert (reason is None) is allowed
        if not allowed:
            assert reason is not None and "HTTP 503" in reason


async def test_unreachable_robots_allows_so_the_page_error_shows() -> None:
    async with SideFetcher(user_agent=UA) as side:
        robots = RobotsPolicy(side, user_agent=UA)
        assert await robots.allowed(f"http://127.0.0.1:{closed_port()}/x")


def test_parse_urlset_index_gzip_and_text() -> None:
    urlset = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              b"<url><loc> https://a.test/1 </loc></url><url><loc>https://a.test/2</loc></url>"
              b"</urlset>")
    assert parse_sitemap(urlset).locs == ["https://a.test/1", "https://a.test/2"]
    assert parse_sitemap(gzip.compress(urlset)).kind == "urlset"
    index = b"<sitemapindex><sitemap><loc>https://a.test/s.xml</loc></sitemap></sitemapindex>"
    assert (parse_sitemap(index).kind, parse_sitemap(index).locs) == ("index", ["https://a.test/s.xml"])
    text = b"https://a.test/x\n\nnot a url\nhttp://a.test/y\n"
    assert parse_sitemap(text).locs == ["https://a.test/x", "http://a.test/y"]


def test_only_url_locs_are_pages_not_image_or_video_locs() -> None:
    # Google's image and video extensions nest their own <loc>s inside <url>.
    urlset = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        b' xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'
        b' xmlns:video="http://www.google.com/schemas/sitemap-video/1.1">'
        b"<url><loc>https://a.test/page</loc>"
        b"<image:image><image:loc>https://cdn.a.test/photo.jpg</image:loc></image:image>"
        b"<video:video><video:content_loc>https://cdn.a.test/v.mp4</video:content_loc>"
        b"<video:player_loc>https://a.test/player</video:player_loc>"
        b"<video:loc>https://cdn.a.test/v2.mp4</video:loc></video:video></url>"
        b"<url><loc>https://a.test/other</loc></url>"
        b"</urlset>"
    )
    assert parse_sitemap(urlset).locs == ["https://a.test/page", "https://a.test/other"]


def test_a_loc_outside_url_or_sitemap_is_not_an_entry() -> None:
    stray = b"<urlset><loc>https://a.test/stray</loc><url><loc>https://a.test/1</loc></url></urlset>"
    assert parse_sitemap(stray).locs == ["https://a.test/1"]


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>',
        b"<urlset><url><loc>https://a.test/</loc></url>",  # not closed
        b"<html><body>not a sitemap</body></html>",
        b"just words",
        b"\x1f\x8bnot really gzip",
    ],
)
def test_bad_sitemaps_raise_sitemap_error(data: bytes) -> None:
    with pytest.raises(SitemapError):
        parse_sitemap(data)


def test_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (5 * 1024 * 1024))
    with pytest.raises(SitemapError, match="expands beyond"):
        gunzip_bounded(bomb, max_bytes=1024 * 1024)


async def test_discover_follows_robots_sitemap_index_and_gzip(site: TrapSite) -> None:
    async with SideFetcher(user_agent=UA) as side:
        robots = RobotsPolicy(side, user_agent=UA)
        found = await discover(side, robots, [site.url("/")])
    assert found.sitemaps_read == [
        site.url("/sitemap_index.xml"),
        site.url("/sitemap-pages.xml"),
        site.url("/sitemap-more.xml.gz"),
    ]
    assert found.urls == [
        site.url("/"), site.url("/abs"), site.url("/orphan-1"),
        site.url("/orphan-2"), site.url("/private/secret"), site.other + "/elsewhere",
    ]
    assert found.errors == []


async def test_discover_falls_back_to_sitemap_xml_and_reports_404() -> None:
    app = web.Application()  # no robots.txt, no sitemap.xml: everything 404
    async with serve(app) as base, SideFetcher(user_agent=UA) as side:
        robots = RobotsPolicy(side, user_agent=UA)
        found = await discover(side, robots, [base + "/"])
    assert found.urls == []
    assert found.errors == [(base + "/sitemap.xml", "HTTP 404")]


@pytest.mark.parametrize(
    ("robots_txt", "compact", "private_allowed"),
    [
        ("User-agent: *\nAllow: /\n", True, True),
        ("\ufeffUser-agent: *  # all\nDisallow:\n\nUser-agent: Other\nAllow: /x\n", True, True),
        ("User-agent: *\nDisallow: /private\n", False, False),
        ("User-agent: *\nDissallow: /private\n", False, False),  # protego reads the typo
        ("User-agent: *\nCrawl-delay: 2\n", False, True),
        ("Sitemap: /s.xml\n", False, True),
        ("User-agent: *\nDisallow /private\n", False, False),  # no colon: left to protego
    ],
)
async def test_allow_all_robots_is_kept_without_a_parser(
    robots_txt: str, compact: bool, private_allowed: bool
) -> None:
    # A parser costs ~1.3 KB a site; broad crawls keep 10,000 sites' rules.
    async def robots(request: web.Request) -> web.Response:
        return web.Response(text=robots_txt)

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    async with serve(app) as base, SideFetcher(user_agent=UA) as side:
        policy = RobotsPolicy(side, user_agent=UA)
        assert await policy.allowed(base + "/page")
        assert await policy.allowed(base + "/private/x") is private_allowed
        rules = policy.cached(base + "/")
        assert rules is not None and (rules.parser is None) is compact
