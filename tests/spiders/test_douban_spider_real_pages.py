"""The douban spider end to end on real saved pages, served by a local aiohttp server.

The real list pages link to ``https://movie.douban.com/subject/<id>/``; the
server rewrites those links to its own ``/subject/<id>/`` as it serves them (the
pages are read from ../shared/fixtures/douban at test time, never copied).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from corocrawl.spiders.douban import FIELDS, build_crawler, complete


def _find_fixtures() -> Path | None:
    override = os.environ.get("COROCRAWL_DOUBAN_FIXTURES")
    if override:
        return Path(override) if Path(override).is_dir() else None
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor / "shared" / "fixtures" / "douban"
        if candidate.is_dir():
            return candidate
    return None


FIXTURES = _find_fixtures()
LIST_PAGES = {
    "chengdu": "later_chengdu_2019-12.html",
    "shenzhen": "later_shenzhen_2021-02.gbk.html",
}
DETAIL_PAGE = "subject_3541415.html"
POSTER = "https://img9.doubanio.com/view/photo/s_ratio_poster/public/p513344864.webp"

pytestmark = pytest.mark.skipif(
    FIXTURES is None,
    reason="douban fixtures absent: no shared/fixtures/douban beside this checkout",
)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    assert FIXTURES is not None
    lists = {
        city: (FIXTURES / name)
        .read_bytes()
        .replace(b"https://movie.douban.com/subject/", b"/subject/")
        for city, name in LIST_PAGES.items()
    }
    detail = (FIXTURES / DETAIL_PAGE).read_bytes()

    async def listing(request: web.Request) -> web.Response:
        body = lists.get(request.match_info["city"])
        if body is None:
            raise web.HTTPNotFound()
        # The header lies like the page's <meta> does: the shenzhen bytes are GBK.
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    async def subject(request: web.Request) -> web.Response:
        # Every other detail page is gone: their movies must keep their list fields.
        if int(request.match_info["id"]) % 2:
            raise web.HTTPNotFound()
        return web.Response(body=detail, headers={"Content-Type": "text/html; charset=utf-8"})

    app = web.Application()
    app.router.add_get("/cinema/later/{city}/", listing)
    app.router.add_get("/subject/{id}/", subject)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


async def test_chengdu_end_to_end_with_half_the_details_failing(server: TestServer) -> None:
    start = str(server.make_url("/cinema/later/chengdu/"))
    crawler = build_crawler([start], today=dt.date(2019, 12, 20))
    stats = await crawler.crawl()
    items = {item["subject_id"]: complete(item) for item in crawler.items}
    assert len(items) == 21
    odd = {sid for sid in items if int(sid) % 2}
    assert 0 < len(odd) < 21
    assert stats.pages == 1 + 21 - len(odd)
    assert stats.error_count == len(odd)
    for sid, item in items.items():
        assert list(item) == list(FIELDS)
        assert item["url"] == str(server.make_url(f"/subject/{sid}/"))
        assert item["name"] and item["date"] and item["wants"] is not None
        assert item["poster_url"] == (None if sid in odd else POSTER)
    first = items["26848640"]
    assert (first["name"], first["date"], first["release_date"]) == (
        "教授与疯子",
        "12月24日",
        "2019-12-24",
    )


async def test_gbk_page_under_a_utf8_header(server: TestServer) -> None:
    start = str(server.make_url("/cinema/later/shenzhen/"))
    crawler = build_crawler([start], today=dt.date(2021, 2, 10))
    await crawler.crawl()
    items = {item["subject_id"]: item for item in crawler.items}
    assert len(items) == 20
    assert items["30433356"]["name"] == "梦醒黄金城"
    assert items["30433356"]["release_date"] == "2021-02-16"
    assert items["3439312"]["region"] == "美国"
