"""F5 and the minor rows: redirects obey scope, robots and their limit; timeouts say which."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from corocrawl import CrawlConfig, Request, Timeouts
from corocrawl._fetcher import Fetcher, FetchError

from .conftest import HOSTILE, crawl
from .server import HostileServer


def _to(location: str) -> str:
    return f"/to?location={quote(location, safe='')}"


@pytest.mark.parametrize("location", [
    "file:///etc/passwd", "javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
])
async def test_redirect_to_a_non_http_url_is_a_permanent_error(
    hostile: HostileServer, tmp_path: Path, location: str
) -> None:
    path = _to(location)
    hostile.page("/", f'<a href="{path}">x</a>')
    _, pages = await crawl(hostile, "/", tmp_path / "c.db")
    assert hostile.fetched(path) == 1, "not retried: the answer will not change"
    assert "redirect" in str(pages[path]["error"])


async def test_read_timeout_message_names_the_read_timeout(hostile: HostileServer) -> None:
    config = CrawlConfig(timeouts=Timeouts(connect=2.0, read=0.3, total=20.0))
    async with Fetcher(config) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(Request(hostile.url("/stall"), "page"))
    assert caught.value.kind == "timeout"
    assert "read" in caught.value.message and "0.3" in caught.value.message
    assert "20" not in caught.value.message


async def test_total_timeout_message_names_the_total(hostile: HostileServer) -> None:
    config = CrawlConfig(timeouts=Timeouts(connect=2.0, read=20.0, total=0.3))
    async with Fetcher(config) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(Request(hostile.url("/stall"), "page"))
    assert caught.value.kind == "timeout"
    assert "0.3s total" in caught.value.message


async def test_at_most_max_redirects_are_followed(hostile: HostileServer) -> None:
    config = CrawlConfig(max_redirects=10)
    async with Fetcher(config) as fetcher:
        response = await fetcher.fetch(Request(hostile.url("/redirect/10"), "page"))
        assert response.status == 200 and len(response.redirects) == 10
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(Request(hostile.url("/redirect/11"), "page"))
    assert caught.value.kind == "redirects" and not caught.value.retryable
    assert "more than 10 redirects" in caught.value.message


async def test_off_scope_redirect_is_recorded_with_its_target_not_fetched(
    hostile: HostileServer, tmp_path: Path
) -> None:
    elsewhere = hostile.url("/elsewhere", host="localhost")
    path = _to(elsewhere)
    hostile.page("/", f'<a href="{path}">x</a>')
    hostile.page("/elsewhere", "<p>another host's page</p>")
    _, pages = await crawl(hostile, "/", tmp_path / "c.db")
    assert hostile.fetched("/elsewhere") == 0
    assert hostile.fetched("/robots.txt", host="localhost") == 0
    assert hostile.fetched(path) == 1
    record = pages[path]
    assert elsewhere in str(record["error"]) and "off-site" in str(record["error"])
    assert record["status"] != 200


async def test_redirect_to_a_disallowed_page_is_not_fetched(
    hostile: HostileServer, tmp_path: Path
) -> None:
    hostile.page("/robots.txt", "User-agent: *\nDisallow: /secret\n", content_type="text/plain")
    path = _to("/secret")
    hostile.page("/", f'<a href="{path}">x</a>')
    hostile.page("/secret", "<p>secret</p>")
    _, pages = await crawl(hostile, "/", tmp_path / "c.db")
    assert hostile.fetched("/secret") == 0
    assert "robots.txt" in str(pages[path]["error"])


async def test_in_scope_redirect_is_still_followed(
    hostile: HostileServer, tmp_path: Path
) -> None:
    hostile.page("/", '<a href="/redirect/2">x</a>')
    _, pages = await crawl(hostile, "/", tmp_path / "c.db", config=HOSTILE)
    assert pages["/redirect/2"]["status"] == 200
    assert pages["/redirect/2"]["error"] is None


async def test_off_site_sitemaps_are_not_fetched(hostile: HostileServer, tmp_path: Path) -> None:
    off = hostile.url("/off.xml", host="localhost")
    off_index_entry = hostile.url("/off-entry.xml", host="localhost")
    hostile.page("/robots.txt", f"User-agent: *\nDisallow: /private/\nSitemap: {off}\n"
                 f"Sitemap: {hostile.url('/index.xml')}\n", content_type="text/plain")
    hostile.page("/index.xml", "<sitemapindex>"
                 f"<sitemap><loc>{off_index_entry}</loc></sitemap>"
                 f"<sitemap><loc>{hostile.url('/private/map.xml')}</loc></sitemap>"
                 f"<sitemap><loc>{hostile.url('/on.xml')}</loc></sitemap></sitemapindex>",
                 content_type="application/xml")
    for name in ("/off.xml", "/off-entry.xml", "/on.xml", "/private/map.xml"):
        hostile.page(name, f"<urlset><url><loc>{hostile.url('/listed' + name)}</loc></url>"
                     "</urlset>", content_type="application/xml")
    hostile.page("/", "<p>start</p>")
    result, _ = await crawl(hostile, "/", tmp_path / "c.db", sitemaps=True)
    assert hostile.fetched("/on.xml") == 1
    assert [h for h in hostile.hits if h[0] == "localhost"] == []
    assert hostile.fetched("/private/map.xml") == 0
    assert result.sitemaps is not None
    skipped = dict(result.sitemaps.errors)
    assert "off-site" in skipped[off] and "off-site" in skipped[off_index_entry]


async def test_sitemap_redirecting_off_site_is_not_followed(
    hostile: HostileServer, tmp_path: Path
) -> None:
    off = hostile.url("/off.xml", host="localhost")
    hostile.page("/robots.txt", f"User-agent: *\nSitemap: {hostile.url(_to(off))}\n",
                 content_type="text/plain")
    hostile.page("/off.xml", f"<urlset><url><loc>{hostile.url('/listed')}</loc></url></urlset>",
                 content_type="application/xml")
    hostile.page("/", "<p>start</p>")
    result, _ = await crawl(hostile, "/", tmp_path / "c.db", sitemaps=True)
    assert [h for h in hostile.hits if h[0] == "localhost"] == []
    assert result.sitemaps is not None
    [(_, reason)] = result.sitemaps.errors
    assert off in reason and "off-site" in reason


async def test_credentials_are_not_sent_to_another_origin(hostile: HostileServer) -> None:
    config = CrawlConfig(headers=(("Authorization", "Bearer s3cret"),))
    elsewhere = hostile.url("/redirect/0", host="localhost")
    async with Fetcher(config) as fetcher:
        response = await fetcher.fetch(Request(hostile.url(_to(elsewhere)), "page"))
    assert response.status == 200
    assert hostile.authorization == [("127.0.0.1", "Bearer s3cret"), ("localhost", None)]
