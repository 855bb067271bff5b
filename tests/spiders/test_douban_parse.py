"""Douban extraction on real saved pages (../shared/fixtures/douban) and on edge cases."""

from __future__ import annotations

import os
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from corocrawl._encoding import decode_body
from corocrawl._request import Request
from corocrawl._response import Response
from corocrawl.spiders._douban_parse import (
    LIST_FIELDS,
    infer_release_date,
    is_douban_host,
    page_city_title,
    parse_list,
    parse_list_page,
    parse_poster,
)

CHENGDU = "later_chengdu_2019-12.html"
SHENZHEN = "later_shenzhen_2021-02.gbk.html"
CHENGDU_URL = "https://movie.douban.com/cinema/later/chengdu/"
SHENZHEN_URL = "https://movie.douban.com/cinema/later/shenzhen/"


def _find_fixtures() -> Path | None:
    """The shared fixture folder: a ``shared/fixtures/douban`` beside some ancestor of this file.

    The repository is cloned as ``<dir>/main`` or ``<dir>/<clone>`` next to
    ``<dir>/shared``; COROCRAWL_DOUBAN_FIXTURES overrides the search.
    """
    override = os.environ.get("COROCRAWL_DOUBAN_FIXTURES")
    if override:
        return Path(override) if Path(override).is_dir() else None
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor / "shared" / "fixtures" / "douban"
        if candidate.is_dir():
            return candidate
    return None


FIXTURES = _find_fixtures()


@cache
def _dom(name: str) -> tuple[LexborHTMLParser, str]:
    if FIXTURES is None or not (FIXTURES / name).is_file():
        pytest.skip(
            f"douban fixtures absent: no shared/fixtures/douban/{name} beside this checkout"
        )
    text, encoding = decode_body((FIXTURES / name).read_bytes(), None)
    return LexborHTMLParser(text), encoding


def _html(body: str, head: str = "") -> LexborHTMLParser:
    return LexborHTMLParser(f"<html><head>{head}</head><body>{body}</body></html>")


def _item(href: str | None = "/subject/123/", lis: str = "", thumb: str | None = None) -> str:
    link = f'<a href="{href}">片名</a>' if href is not None else "<span>片名</span>"
    thumb_html = f'<a class="thumb" href="{href}"><img src="{thumb}"></a>' if thumb else ""
    return (
        f'<div class="item mod">{thumb_html}<div class="intro"><h3>{link}</h3>'
        f"<ul>{lis}</ul></div></div>"
    )


def _page(*items: str, head: str = "") -> LexborHTMLParser:
    return _html(f'<div id="showing-soon" class="tab-bd">{"".join(items)}</div>', head)


# --- the real list pages ---------------------------------------------------------------


def test_chengdu_list_page() -> None:
    dom, encoding = _dom(CHENGDU)
    assert encoding == "utf-8"
    assert page_city_title(dom) == "成都"
    page = parse_list_page(dom, CHENGDU_URL)
    assert len(page.items) == 21
    assert page.skipped == 0
    assert page.items[0] == {
        "name": "教授与疯子",
        "date": "12月24日",
        "genre": "剧情 / 传记",
        "region": "爱尔兰",
        "wants": 16577,
        "url": "https://movie.douban.com/subject/26848640/",
        "subject_id": "26848640",
        "thumb_url": "https://img3.doubanio.com/view/photo/s_ratio_poster/public/p2577347230.jpg",
    }
    by_name = {item["name"]: item for item in page.items}
    assert by_name["宠爱"]["wants"] == 11878
    assert by_name["宠爱"]["date"] == "12月31日"
    assert by_name["罗宾汉：起源"]["region"] == "美国"
    assert by_name["小羊肖恩2：末日农场"]["genre"] == "喜剧 / 动画 / 奇幻"
    # Items without a trailer link parse the same as those with one.
    assert by_name["浴血反击"]["wants"] == 156
    assert len({item["subject_id"] for item in page.items}) == 21
    for item in page.items:
        assert tuple(item) == LIST_FIELDS
        assert item["url"] == f"https://movie.douban.com/subject/{item['subject_id']}/"
        assert item["thumb_url"].startswith("https://img")
        assert isinstance(item["wants"], int)


def test_shenzhen_gbk_page_decodes_without_mojibake() -> None:
    dom, encoding = _dom(SHENZHEN)
    assert encoding in {"gb18030", "gbk", "gb2312"}
    assert page_city_title(dom) == "深圳"
    title = dom.css_first("title")
    assert title is not None and title.text(strip=True) == "深圳影讯"


def test_shenzhen_through_response_with_lying_header() -> None:
    """As the spider sees it: the server's header says utf-8 too, and the bytes are GBK."""
    _dom(SHENZHEN)  # skips when the fixtures are absent
    body = (FIXTURES / SHENZHEN).read_bytes()  # type: ignore[operator]
    headers = {"Content-Type": "text/html; charset=utf-8"}
    resp = Response(SHENZHEN_URL, 200, headers, body, Request(SHENZHEN_URL))
    assert page_city_title(resp.dom) == "深圳"
    items = parse_list(resp.dom, resp.url)
    assert [item["name"] for item in items[:2]] == ["梦醒黄金城", "扶贫主任"]
    assert resp.request.host == "movie.douban.com:443" and is_douban_host(resp.request.host)


def test_shenzhen_list_page() -> None:
    dom, _ = _dom(SHENZHEN)
    items = parse_list(dom, SHENZHEN_URL)
    assert len(items) == 20
    assert items[0] == {
        "name": "梦醒黄金城",
        "date": "02月16日",
        "genre": "剧情",
        "region": "中国大陆",
        "wants": 104,
        "url": "https://movie.douban.com/subject/30433356/",
        "subject_id": "30433356",
        "thumb_url": "https://img2.doubanio.com/view/photo/s_ratio_poster/public/p2632103013.jpg",
    }
    by_id = {item["subject_id"]: item for item in items}
    assert by_id["3439312"]["name"] == "猫和老鼠"
    assert by_id["3439312"]["genre"] == "喜剧 / 动画 / 冒险"
    assert by_id["3439312"]["wants"] == 18155
    assert [item["date"] for item in items][-1] == "04月03日"
    # Zero-padded dates infer like unpadded ones.
    assert infer_release_date(items[0]["date"], date(2021, 2, 10)) == date(2021, 2, 16)


def test_real_item_with_three_li_has_no_wants() -> None:
    """Real pages sometimes drop the 想看 li; made here from a real item."""
    dom, _ = _dom(CHENGDU)
    dom = LexborHTMLParser(dom.html or "")  # a private copy: _dom is cached
    first = dom.css("#showing-soon div.item")[0]
    wants_li = first.css_first("li.dt.last")
    assert wants_li is not None
    wants_li.decompose()
    assert len(first.css("li")) == 3
    assert first.css_first("a.trailer_icon") is not None
    item = parse_list(dom, CHENGDU_URL)[0]
    assert item["wants"] is None
    assert (item["date"], item["genre"], item["region"]) == ("12月24日", "剧情 / 传记", "爱尔兰")


def test_real_page_with_unusable_items_skips_and_counts_them() -> None:
    dom, _ = _dom(CHENGDU)
    dom = LexborHTMLParser(dom.html or "")
    nodes = dom.css("#showing-soon div.item")
    for node in nodes[:2]:  # no h3 link and no thumb link left
        for link in node.css("a"):
            link.decompose()
    page = parse_list_page(dom, CHENGDU_URL)
    assert (len(page.items), page.skipped) == (19, 2)
    assert page.skip_reasons == ["no link", "no link"]


# --- the real detail pages -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "poster"),
    [
        (
            "subject_3541415.html",
            "https://img9.doubanio.com/view/photo/s_ratio_poster/public/p513344864.webp",
        ),
        (
            "subject_26895436.html",
            "https://img9.doubanio.com/view/photo/s_ratio_poster/public/p2669120755.jpg",
        ),
        (
            "subject_6875601.html",
            "https://img2.doubanio.com/view/photo/s_ratio_poster/public/p1637430363.webp",
        ),
    ],
)
def test_poster_of_real_detail_pages(name: str, poster: str) -> None:
    dom, _ = _dom(name)
    subject_id = name.removeprefix("subject_").removesuffix(".html")
    assert parse_poster(dom, f"https://movie.douban.com/subject/{subject_id}/") == poster


def test_poster_skips_jquery_template_decoy() -> None:
    dom, _ = _dom("subject_6875601.html")
    # The decoy is really there, and comes first in the document...
    raw = (FIXTURES / "subject_6875601.html").read_text("utf-8")  # type: ignore[operator]
    assert raw.index('src="{{= img}}"') < raw.index('id="mainpic"')
    # ...yet the poster is the #mainpic one.
    poster = parse_poster(dom, "https://movie.douban.com/subject/6875601/")
    assert poster is not None and "{{" not in poster and poster.endswith("p1637430363.webp")


def test_poster_absent_or_placeholder_is_none() -> None:
    assert parse_poster(_html("<p>gone</p>"), "https://movie.douban.com/subject/1/") is None
    templated = '<div id="mainpic"><a class="nbgnbg"><img src="{{= img}}" rel="v:image"></a></div>'
    assert parse_poster(_html(templated), "https://movie.douban.com/subject/1/") is None


def test_poster_is_the_first_usable_image_in_mainpic() -> None:
    url = "https://movie.douban.com/subject/1/"
    # An unusable first match (empty, a template) gives way to the next one, before
    # the looser selector is tried.
    body = ('<div id="mainpic"><img src="{{= img}}" rel="v:image"><img src="" rel="v:image">'
            '<img src="https://img1.doubanio.com/p2.jpg" rel="v:image">'
            '<img src="https://img1.doubanio.com/other.jpg"></div>')
    assert parse_poster(_html(body), url) == "https://img1.doubanio.com/p2.jpg"
    loose = '<div id="mainpic"><img src=""><img src="https://img1.doubanio.com/p3.jpg"></div>'
    assert parse_poster(_html(loose), url) == "https://img1.doubanio.com/p3.jpg"


def test_poster_relative_src_resolves_against_base() -> None:
    body = '<div id="mainpic"><a class="nbgnbg"><img src="p1.jpg" rel="v:image"></a></div>'
    dom = _html(body, head='<base href="http://127.0.0.1:8080/img/">')
    assert (
        parse_poster(dom, "http://127.0.0.1:8080/subject/1/") == "http://127.0.0.1:8080/img/p1.jpg"
    )


# --- list edge cases -------------------------------------------------------------------


def test_relative_links_resolve_against_page_and_base() -> None:
    dom = _page(_item("/subject/42/", '<li class="dt">1月5日</li>', thumb="/img/p42.jpg"))
    item = parse_list(dom, "http://127.0.0.1:8765/cinema/later/beijing/")[0]
    assert item["url"] == "http://127.0.0.1:8765/subject/42/"
    assert item["thumb_url"] == "http://127.0.0.1:8765/img/p42.jpg"
    assert item["subject_id"] == "42"
    based = _page(_item("subject/7/"), head='<base href="http://mirror.test:81/m/">')
    assert parse_list(based, "http://127.0.0.1/cinema/later/x/")[0]["url"] == (
        "http://mirror.test:81/m/subject/7/"
    )


def test_fields_found_by_content_not_position() -> None:
    lis = (
        '<li class="dt">剧情</li><li class="dt">10月1日</li>'
        '<a class="trailer_icon" href="/trailer/1/">预告片</a>'
        '<li class="dt last"><span>1,024人想看</span></li>'
    )
    item = parse_list(_page(_item(lis=lis)), "https://movie.douban.com/cinema/later/x/")[0]
    assert (item["date"], item["genre"], item["region"], item["wants"]) == (
        "10月1日",
        "剧情",
        None,
        1024,
    )


@pytest.mark.parametrize(
    ("lis", "expected"),
    [
        (
            "<li>待定</li><li>动画</li><li>日本</li><li><span>9人想看</span></li>",
            ("待定", "动画", "日本", 9),
        ),
        ("<li>12月24日</li><li>战争</li>", ("12月24日", "战争", None, None)),
        ("<li>剧情</li><li>中国大陆</li>", (None, "剧情", "中国大陆", None)),
        ("<li><span>1.2万人想看</span></li>", (None, None, None, 12000)),
        ("<li><span>人想看</span></li><li>  </li>", (None, None, None, None)),
        ("", (None, None, None, None)),
    ],
)
def test_partial_items_are_data(lis: str, expected: tuple[object, ...]) -> None:
    item = parse_list(_page(_item(lis=lis)), "https://movie.douban.com/cinema/later/x/")[0]
    assert (item["date"], item["genre"], item["region"], item["wants"]) == expected
    assert tuple(item) == LIST_FIELDS


def test_malformed_items_never_raise() -> None:
    dom = _page(
        _item(None),  # no link at all
        _item("/trailer/1/"),  # a link, but not to a subject
        _item(""),  # an empty href
        _item("http://[oops/subject/1/"),  # a link urljoin cannot parse
        _item("/subject/9/", "<li>1月1日</li>"),
        '<div class="item"></div>',
    )
    page = parse_list_page(dom, "https://movie.douban.com/cinema/later/x/")
    assert [item["subject_id"] for item in page.items] == ["9"]
    assert page.skipped == 5
    assert page.items[0]["name"] == "片名"
    assert page.items[0]["thumb_url"] is None


def test_not_a_list_page() -> None:
    dom = _html("<p>404</p>", head="<title>页面不存在</title>")
    assert parse_list(dom, "https://movie.douban.com/cinema/later/nowhere/") == []
    assert page_city_title(dom) is None
    assert page_city_title(_html("")) is None
    assert page_city_title(_html("", head="<title>\n  北京影讯\n</title>")) == "北京"


# --- release dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("10月11日", date(2019, 9, 1), date(2019, 10, 11)),
        ("10月1日", date(2019, 10, 1), date(2019, 10, 1)),  # today counts
        ("10月1日", date(2019, 10, 2), date(2020, 10, 1)),
        ("01月05日", date(2019, 12, 20), date(2020, 1, 5)),  # New Year
        ("12月31日", date(2019, 12, 31), date(2019, 12, 31)),
        ("1月1日", date(2019, 12, 31), date(2020, 1, 1)),
        ("2月29日", date(2021, 3, 1), date(2024, 2, 29)),
        ("2月29日", date(2024, 1, 1), date(2024, 2, 29)),
        ("2月29日", date(2096, 3, 1), date(2104, 2, 29)),  # 2100 is not a leap year
        ("2020年01月05日", date(2023, 6, 1), date(2020, 1, 5)),
        ("2020-01-05", date(2023, 6, 1), date(2020, 1, 5)),
        ("2020/1/5", date(2023, 6, 1), date(2020, 1, 5)),
        (" 3月 9日 ", date(2021, 2, 1), date(2021, 3, 9)),
        ("待定", date(2021, 2, 1), None),
        ("", date(2021, 2, 1), None),
        (None, date(2021, 2, 1), None),
        ("13月1日", date(2021, 2, 1), None),
        ("2月30日", date(2021, 2, 1), None),
        ("2021-02-30", date(2021, 2, 1), None),
        ("12月31日", date(9999, 12, 31), date(9999, 12, 31)),
        ("1月1日", date(9999, 12, 31), None),  # no next year to be had
    ],
)
def test_infer_release_date(text: str | None, today: date, expected: date | None) -> None:
    assert infer_release_date(text, today) == expected


_TODAY = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))


@given(today=_TODAY, day=st.dates(min_value=date(2001, 1, 1), max_value=date(2001, 12, 31)))
def test_infer_release_date_properties(today: date, day: date) -> None:
    # 2001 is not a leap year: every month/day here exists every year.
    for text in (f"{day.month}月{day.day}日", f"{day.month:02d}月{day.day:02d}日"):
        result = infer_release_date(text, today)
        assert result is not None
        assert (result.month, result.day) == (day.month, day.day)
        assert today <= result < today + timedelta(days=366)


@given(today=_TODAY)
def test_infer_release_date_feb_29(today: date) -> None:
    result = infer_release_date("2月29日", today)
    assert result is not None
    assert (result.month, result.day) == (2, 29)
    assert today <= result <= today + timedelta(days=8 * 366)
    # No leap day is skipped between today and the result.
    for year in range(today.year, result.year):
        leap = date(year, 3, 1) - timedelta(days=1)
        assert leap.day != 29 or leap < today


# --- hosts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("movie.douban.com", True),
        ("movie.douban.com:443", True),
        ("douban.com", True),
        ("WWW.DOUBAN.COM.", True),
        ("img9.doubanio.com", True),
        ("img9.doubanio.com:80", True),
        ("127.0.0.1:8080", False),
        ("localhost", False),
        ("notdouban.com", False),
        ("douban.com.evil.test", False),
        ("[::1]:8080", False),
        ("", False),
        (None, False),
    ],
)
def test_is_douban_host(host: str | None, expected: bool) -> None:
    assert is_douban_host(host) is expected


# -- one query an item instead of three -------------------------------------------------

_PART_TAGS = ("a", "img", "li", "ul", "ol", "h3", "div", "span", "p", "svg", "A", "LI", "Img",
              "table", "template")
_PART_CLASSES = ("", ' class="thumb"', ' class="item"', ' class="thumb item"', ' href="/s/1/"')


@st.composite
def _fragments(draw: st.DrawFn, depth: int = 0) -> str:
    """Random nestings of the tags the item query can meet, badly nested included."""
    parts = []
    for _ in range(draw(st.integers(0, 4 if depth < 4 else 0))):
        tag = draw(st.sampled_from(_PART_TAGS))
        attrs = draw(st.sampled_from(_PART_CLASSES))
        inner = draw(_fragments(depth + 1)) if depth < 4 else "x"
        close = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", ""]))  # sometimes unclosed
        parts.append(f"<{tag}{attrs}>{inner}{close}")
    return "".join(parts)


@given(st.lists(_fragments(), min_size=1, max_size=4))
def test_item_parts_equal_three_queries(items: list[str]) -> None:
    """The one-query extraction finds exactly what the three separate queries find."""
    from corocrawl.spiders._douban_parse import _item_parts

    html = '<div id="showing-soon">' + "".join(
        f'<div class="item">{body}</div>' for body in items) + "</div>"
    dom = LexborHTMLParser(html)
    for node in dom.css("#showing-soon div.item"):
        title, thumb, lis = _item_parts(node)

        def ident(n: object) -> int | None:
            return None if n is None else n.mem_id  # type: ignore[attr-defined]

        assert ident(title) == ident(node.css_first("h3 a"))
        assert ident(thumb) == ident(node.css_first("a.thumb img"))
        assert [li.mem_id for li in lis] == [li.mem_id for li in node.css("ul li")]
