from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from corocrawl.report import render_gallery, week_heading, write_gallery

from ._images import poster_png
from ._movies import movies

EVIL = '<script>alert("x")</script> & "quoted" \'single\''


def test_every_field_is_escaped() -> None:
    item = {
        "name": EVIL,
        "date": "<b>12月2日</b>",
        "release_date": "2026-12-02",
        "genre": '"><img src=x onerror=alert(1)>',
        "region": "<i>美国</i>",
        "wants": 5,
        "url": 'https://movie.douban.com/subject/1/"><script>alert(2)</script>',
        "subject_id": "1",
        "poster_url": 'https://img.example/p.jpg" onerror="alert(3)',
    }
    html = render_gallery([item], title="<title>&", remote_posters=True)
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert '" onerror="' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quoted&quot;" in html
    assert "&lt;i&gt;美国&lt;/i&gt;" in html
    assert "<title>&lt;title&gt;&amp;</title>" in html
    # The only tags are ours: one card, one poster image.
    assert html.count("<article") == 1 and html.count("<img") == 1


def test_only_http_urls_are_linked() -> None:
    item = {"name": "x", "subject_id": "1", "url": "javascript:alert(1)",
            "poster_url": "data:image/png;base64,AAAA", "thumb_url": " JavaScript:alert(2)"}
    html = render_gallery([item])
    assert "javascript:" not in html.lower() and 'src="data:' not in html
    assert "no poster" in html and "<a href" not in html


def test_sorted_by_date_grouped_by_iso_week_unknown_last() -> None:
    items = movies(30)
    html = render_gallery(items, generated=dt.datetime(2026, 11, 27, 12, 0))
    headings = re.findall(r"<h2>(.*?)<small>|<h2>(.*?)</h2>", html)
    labels = [a or b for a, b in headings]
    assert labels[0] == "11月30日 – 12月6日"
    assert labels[-1] == "日期未定 · date unknown"
    dates = re.findall(r'<time datetime="([0-9-]+)"', html)
    assert dates == sorted(dates) and len(dates) == sum(1 for m in items if m["release_date"])
    assert html.count('<article class="card">') == 30
    assert 'name="viewport"' in html
    # Self-contained: no stylesheet or script to fetch, no JS needed.
    assert 'rel="stylesheet"' not in html and "<script" not in html
    assert re.findall(r'<link[^>]*href="([^"]*)"', html)[0].startswith("data:")


def test_week_heading_spans_new_year() -> None:
    assert week_heading(dt.date(2026, 12, 2)) == ("11月30日 – 12月6日", "2026 · 第49周")
    assert week_heading(dt.date(2027, 1, 1)) == ("12月28日 – 1月3日", "2026 · 第53周")


def test_local_posters_are_linked_relative_to_the_page(tmp_path: Path) -> None:
    posters = tmp_path / "posters"
    posters.mkdir()
    (posters / "2001-0123456789ab.png").write_bytes(poster_png(1))
    (posters / ".poster-2002-abc.part").write_bytes(b"partial")  # never used
    page = write_gallery(movies(3), tmp_path / "out" / "movies.html", poster_dir=posters)
    html = page.read_text(encoding="utf-8")
    assert 'src="../posters/2001-0123456789ab.png"' in html
    assert ".part" not in html
    # Not downloaded: a placeholder, not a request to a server the crawler did not trust.
    assert "https://img.example.invalid/poster/0.png" not in html and "no poster" in html
    assert [p.name for p in page.parent.iterdir()] == ["movies.html"]  # no temp left


def test_empty_gallery_says_so() -> None:
    assert "No movies yet" in render_gallery([])


def _douban_fixtures() -> Path | None:
    for ancestor in Path(__file__).resolve().parents:
        candidate = ancestor / "shared" / "fixtures" / "douban"
        if candidate.is_dir():
            return candidate
    return None


def test_gallery_of_a_real_douban_list_page() -> None:
    fixtures = _douban_fixtures()
    if fixtures is None:
        pytest.skip("douban fixtures absent: no shared/fixtures/douban beside this checkout")
    from selectolax.lexbor import LexborHTMLParser

    from corocrawl.spiders._douban_parse import infer_release_date, parse_list

    html = (fixtures / "later_chengdu_2019-12.html").read_bytes().decode("utf-8")
    items = parse_list(LexborHTMLParser(html), "https://movie.douban.com/cinema/later/chengdu/")
    for item in items:
        day = infer_release_date(item.get("date"), dt.date(2019, 12, 1))
        item["release_date"] = day.isoformat() if day else None
    page = render_gallery(items)
    assert page.count('<article class="card">') == len(items) == 21
    link = r'<h3><a href="https://movie\.douban\.com/subject/\d+/">([^<]+)</a></h3>'
    names = re.findall(link, page)
    assert len(names) == 21
    assert re.findall(r"<h2>([^<]+)<small>", page)[0].startswith("12月")
