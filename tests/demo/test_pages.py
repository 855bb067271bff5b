"""The replica's pages have the real douban structure and the expected content."""

from __future__ import annotations

import asyncio
from datetime import date

import aiohttp
import pytest
from selectolax.lexbor import LexborHTMLParser

from corocrawl._encoding import decode_body
from corocrawl.demo import DemoConfig, DemoServer, expected_items, make_movies


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], bytes]:
    async with session.get(url, allow_redirects=False) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def parse_list(html: str) -> list[dict[str, object]]:
    """Extract items the way a douban spider does."""
    items = []
    for node in LexborHTMLParser(html).css("div#showing-soon > div.item"):
        link = node.css_first("div.intro h3 a")
        lis = [li.text(strip=True) for li in node.css("ul > li.dt")]
        wants = None
        if len(lis) == 4:
            wants = int(lis[3].removesuffix("人想看"))
        items.append(
            {
                "class": node.attrs.get("class"),
                "name": link.text(strip=True),
                "url": link.attrs["href"],
                "thumb": node.css_first("a.thumb > img").attrs["src"],
                "date": lis[0],
                "genre": lis[1],
                "region": lis[2],
                "wants": wants,
                "li_count": len(lis),
                "trailer": node.css_first("ul > a.trailer_icon") is not None,
            }
        )
    return items


async def test_list_page_has_douban_structure_and_expected_fields(
    start_demo_server, browser_session
) -> None:
    config = DemoConfig(movies=200, seed=7)
    server = await start_demo_server(config)
    status, headers, body = await get(browser_session, server.url("/cinema/later/beijing/"))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    html = body.decode("utf-8")
    tree = LexborHTMLParser(html)
    assert tree.css_first("title").text(strip=True) == "北京影讯"
    items = parse_list(html)
    assert len(items) == 200
    assert [i["class"] for i in items[:4]] == ["item mod ", "item mod odd"] * 2
    assert {i["li_count"] for i in items} == {3, 4}, "some items lack the 想看 li"
    assert 1 <= sum(i["li_count"] == 3 for i in items) <= 30
    assert any(i["trailer"] for i in items)
    expected = expected_items(config)
    for got, want in zip(items, expected, strict=True):
        assert got["name"] == want["name"]
        assert got["date"] == want["date"]
        assert got["genre"] == want["genre"]
        assert got["region"] == want["region"]
        assert got["wants"] == want["wants"]
        assert got["url"] == server.url(want["url_path"])
        assert got["thumb"] == server.url(want["thumb_path"])
        assert want["url_path"] == f"/subject/{want['subject_id']}/"


def test_expected_items_are_deterministic_and_plausible() -> None:
    today = date(2026, 12, 20)
    config = DemoConfig(movies=300, seed=3, today=today, cities=("beijing", "shanghai"))
    items = expected_items(config)
    assert items == expected_items(DemoConfig(movies=300, seed=3, today=today,
                                              cities=("beijing", "shanghai")))
    assert items != expected_items(DemoConfig(movies=300, seed=4, today=today))
    assert len({i["subject_id"] for i in items}) == 300
    assert len({i["name"] for i in items}) == 300
    assert {i["city"] for i in items} == {"beijing", "shanghai"}
    for item in items:
        release = date.fromisoformat(item["release_date"])
        assert 0 <= (release - today).days <= 120
        assert item["date"] == f"{release.month:02d}月{release.day:02d}日"
        assert item["wants"] is None or item["wants"] > 0
        assert item["genre"] and item["region"]
    # Dates cross New Year from 12-20: some items are next year.
    assert {date.fromisoformat(i["release_date"]).year for i in items} == {2026, 2027}


async def test_each_city_lists_its_movies_and_unknown_slug_names_itself(
    start_demo_server, browser_session
) -> None:
    config = DemoConfig(movies=30, cities=("beijing", "shanghai", "lhasa"))
    server = await start_demo_server(config)
    counts = {}
    for city, title in (("beijing", "北京影讯"), ("shanghai", "上海影讯"), ("lhasa", "lhasa影讯")):
        _, _, body = await get(browser_session, server.url(f"/cinema/later/{city}/"))
        html = body.decode()
        assert LexborHTMLParser(html).css_first("title").text() == title
        counts[city] = len(parse_list(html))
    assert counts == {"beijing": 10, "shanghai": 10, "lhasa": 10}


async def test_unknown_city_and_subject_are_404_pages(demo_server, browser_session) -> None:
    status, headers, body = await get(browser_session, demo_server.url("/cinema/later/nowhere/"))
    assert status == 404
    assert "页面不存在" in body.decode()
    status, _, _ = await get(browser_session, demo_server.url("/subject/1/"))
    assert status == 404
    status, headers, _ = await get(browser_session, demo_server.url("/cinema/later/beijing"))
    assert status == 301
    assert headers["Location"] == "/cinema/later/beijing/"


async def test_detail_page_has_poster_after_decoy_template(demo_server, browser_session) -> None:
    items = expected_items(demo_server.config)
    sizes = []
    for item in items[:10]:
        status, headers, body = await get(browser_session, demo_server.url(item["url_path"]))
        assert status == 200
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        sizes.append(len(body))
        html = body.decode()
        tree = LexborHTMLParser(html)
        img = tree.css_first('div#mainpic > a.nbgnbg > img[rel="v:image"]')
        assert img is not None
        assert img.attrs["src"] == demo_server.url(item["poster_path"])
        assert tree.css_first('span[property="v:itemreviewed"]').text().startswith(item["name"])
        decoy = html.index('<img src="{{= img}}"')
        assert decoy < html.index('id="mainpic"')
        assert 'type="text/x-jquery-tmpl"' in html[:decoy]
        assert len(tree.css("div.comment-item")) >= 5
    assert all(30_000 <= size <= 60_000 for size in sizes), sizes


async def test_pages_use_the_host_the_client_addressed(demo_server, browser_session) -> None:
    url = f"http://localhost:{demo_server.port}/cinema/later/beijing/"
    try:
        status, _, body = await get(browser_session, url)
    except aiohttp.ClientConnectorError:
        pytest.skip("localhost does not resolve to 127.0.0.1 here")
    assert status == 200
    first = parse_list(body.decode())[0]
    assert str(first["url"]).startswith(f"http://localhost:{demo_server.port}/subject/")


async def test_posters_and_thumbs_are_valid_jpegs(demo_server, browser_session) -> None:
    movie = make_movies(demo_server.config)[0]
    sizes = {}
    for path in (movie.thumb_path, movie.poster_path):
        status, headers, body = await get(browser_session, demo_server.url(path))
        assert status == 200
        assert headers["Content-Type"] == "image/jpeg"
        assert body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"
        sof = body.index(b"\xff\xc0")
        height = int.from_bytes(body[sof + 5 : sof + 7], "big")
        width = int.from_bytes(body[sof + 7 : sof + 9], "big")
        sizes[path] = (width, height)
    assert sizes[movie.thumb_path] < sizes[movie.poster_path]
    status, _, _ = await get(browser_session, demo_server.url("/view/photo/l/public/p1.jpg"))
    assert status == 404


async def test_robots_txt_allows_all(demo_server) -> None:
    async with aiohttp.ClientSession() as session:  # any User-Agent may read robots.txt
        status, _, body = await get(session, demo_server.url("/robots.txt"))
    assert status == 200
    assert body.decode().splitlines() == ["User-agent: *", "Allow: /"]


async def test_bots_get_418_browsers_get_200(demo_server) -> None:
    url = demo_server.url("/cinema/later/beijing/")
    detail = demo_server.url(expected_items(demo_server.config)[0]["url_path"])
    async with aiohttp.ClientSession() as session:  # aiohttp's own User-Agent
        assert (await get(session, url))[0] == 418
        status, _, body = await get(session, detail)
        assert status == 418
        assert len(body) < 100
    async with aiohttp.ClientSession(headers={"User-Agent": "python-requests/2.31"}) as session:
        assert (await get(session, url))[0] == 418
    async with aiohttp.ClientSession(headers={"User-Agent": "Mozilla/5.0 (X11)"}) as session:
        assert (await get(session, url))[0] == 200
        assert (await get(session, detail))[0] == 200


async def test_block_bots_off_serves_everyone(start_demo_server) -> None:
    server = await start_demo_server(movies=5, block_bots=False)
    async with aiohttp.ClientSession() as session:
        assert (await get(session, server.url("/cinema/later/beijing/")))[0] == 200


async def test_gbk_city_is_gbk_bytes_under_utf8_meta(start_demo_server, browser_session) -> None:
    config = DemoConfig(movies=20, cities=("beijing", "shenzhen"), gbk_cities=("shenzhen",))
    server = await start_demo_server(config)
    status, headers, body = await get(browser_session, server.url("/cinema/later/shenzhen/"))
    assert status == 200
    assert headers["Content-Type"] == "text/html"  # no charset, like the saved real page
    assert b'charset=utf-8' in body[:1024]
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert b"\r\n" in body
    text, encoding = decode_body(body, headers["Content-Type"])
    assert encoding == "gb18030"
    assert LexborHTMLParser(text).css_first("title").text() == "深圳影讯"
    names = [str(i["name"]) for i in parse_list(text)]
    assert names == [i["name"] for i in expected_items(config) if i["city"] == "shenzhen"]
    # The other city stays UTF-8.
    _, headers, body = await get(browser_session, server.url("/cinema/later/beijing/"))
    assert "北京影讯" in body.decode("utf-8")


async def test_server_url_helpers(demo_server: DemoServer) -> None:
    assert demo_server.base_url == f"http://127.0.0.1:{demo_server.port}"
    assert demo_server.url("robots.txt") == demo_server.base_url + "/robots.txt"
    assert demo_server.list_urls() == [demo_server.base_url + "/cinema/later/beijing/"]


async def test_warm_pages_equal_cold_pages(start_demo_server, browser_session) -> None:
    config = DemoConfig(movies=12, seed=21, cities=("beijing", "shenzhen"),
                        gbk_cities=("shenzhen",))
    cold = await start_demo_server(config)
    warm = await start_demo_server(config)
    warm.warm("replica.test")
    paths = [i["url_path"] for i in expected_items(config)] + [
        "/cinema/later/beijing/", "/cinema/later/shenzhen/"
    ]
    for path in paths:
        bodies = []
        for server in (cold, warm):
            async with browser_session.get(server.url(path), headers={"Host": "replica.test"}) as r:
                assert r.status == 200
                bodies.append(await r.read())
        assert bodies[0] == bodies[1]
        assert b"http://replica.test/" in bodies[0]


async def test_odd_or_missing_host_header_falls_back_to_the_address(demo_server) -> None:
    for host_line in ("Host: <script>\r\n", ""):
        reader, writer = await asyncio.open_connection("127.0.0.1", demo_server.port)
        writer.write(
            f"GET /cinema/later/beijing/ HTTP/1.0\r\n{host_line}"
            "User-Agent: Mozilla/5.0\r\n\r\n".encode()
        )
        async with asyncio.timeout(10):
            raw = await reader.read()
        writer.close()
        await writer.wait_closed()
        assert raw.startswith(b"HTTP/1.0 200") or raw.startswith(b"HTTP/1.1 200")
        assert f"http://127.0.0.1:{demo_server.port}/subject/".encode() in raw
        assert b"<script>/" not in raw


async def test_gzip_pages_for_clients_that_accept_it(start_demo_server, browser_session) -> None:
    config = DemoConfig(movies=5, gzip=True)
    server = await start_demo_server(config)
    path = expected_items(config)[0]["url_path"]
    async with browser_session.get(server.url(path)) as resp:  # aiohttp accepts gzip
        assert resp.headers["Content-Encoding"] in ("gzip", "deflate")
        assert "v:image" in await resp.text()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET {path} HTTP/1.0\r\nUser-Agent: Mozilla/5.0\r\n\r\n".encode())
    async with asyncio.timeout(10):
        raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert b"Content-Encoding" not in raw.split(b"\r\n\r\n")[0]
