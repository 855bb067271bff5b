"""F2: a deeply nested page cannot hold the event loop; it is recorded as failed, once."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from corocrawl import Crawler, Request
from corocrawl._response import MAX_NESTING, Response, UnparseablePage

from .conftest import HOSTILE, crawl, loop_lag
from .server import MIB, HostileServer, nested_divs

#: Loop lag that fails a test: normal lags are milliseconds; on main the deep
#: pages below held the loop for tens of seconds (or for ever).
MAX_LAG = 1.0


@pytest.mark.parametrize("path", ["/nested/100000", "/nested/1000000?open"])
async def test_deep_page_is_refused_without_holding_the_loop(
    hostile: HostileServer, tmp_path: Path, path: str
) -> None:
    hostile.page("/", f'<a href="{path}">deep</a><a href="/after">after</a>')
    hostile.page("/after", "<title>after</title>")
    config = dataclasses.replace(HOSTILE, max_body=16 * MIB)  # the whole page, not a cut
    db = tmp_path / "c.db"
    async with loop_lag() as lags:
        await crawl(hostile, "/", db, config=config)
    assert max(lags) < MAX_LAG, f"the event loop was held {max(lags):.1f} s"
    _, pages = await crawl(hostile, "/", db, config=config)  # a resume
    record = pages[path]
    assert str(record["error"]).startswith("unparseable: ")
    assert record["status"] == 200 and record["title"] is None
    assert pages["/after"]["title"] == "after"
    assert hostile.fetched(path) == 1, "failed for good: neither retried nor fetched on resume"


def test_dom_refuses_a_deep_page_whatever_its_type() -> None:
    headers = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"}))
    response = Response("http://x.test/", 200, headers, nested_divs(100_000),
                        Request("http://x.test/"))
    with pytest.raises(UnparseablePage, match="nested"):
        _ = response.dom


def test_ordinary_nesting_is_parsed() -> None:
    depth = MAX_NESTING // 2
    body = b"<div>" * depth + b"<p>x<br><span>y</div>" * 3 + b"</div>" * depth
    response = Response("http://x.test/", 200, {}, body, Request("http://x.test/"))
    assert len(response.css("span")) == 3


async def test_deep_page_and_bad_link_with_worker_processes(hostile: HostileServer) -> None:
    # The bad link last: resp.follow raises there, and the callback ends with it.
    hostile.page("/", '<a href="/nested/100000">deep</a><a href="/after">after</a>'
                 '<a href="http://127.0.0.1:99999/">bad</a>')
    hostile.page("/after", "<title>after</title>")
    crawler = Crawler(processes=2, retries=0, max_body=16 * MIB)

    @crawler.start(hostile.url("/"))
    async def parse(resp: Response) -> AsyncIterator[Request | dict[str, str]]:
        title = resp.css_first("title")
        yield {"url": resp.url, "title": title.text() if title is not None else ""}
        for link in resp.css("a"):
            yield resp.follow(link.attrs["href"] or "", parse)

    async with loop_lag() as lags:
        stats = await crawler.crawl()
    assert max(lags) < MAX_LAG, f"the event loop was held {max(lags):.1f} s"
    assert {item["title"] for item in crawler.items} == {"", "after"}
    kinds = {error.url.removeprefix(hostile.url("")): error.kind for error in stats.errors}
    assert kinds == {"/nested/100000": "unparseable", "/": "callback"}
