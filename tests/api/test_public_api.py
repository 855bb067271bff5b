"""The public API a script or notebook uses: public names only, real servers."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import corocrawl
from corocrawl import Crawler, InvalidSelector, Response
from corocrawl.demo import DemoServer
from docs_site import docs_crawler

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36"


def test_all_names_exist_and_are_public() -> None:
    assert sorted(corocrawl.__all__) == sorted(set(corocrawl.__all__))
    for name in corocrawl.__all__:
        assert getattr(corocrawl, name) is not None
        assert not name.startswith("_") or name == "__version__"


async def test_db_run_streams_items_and_exports_dataclass_fields(
    docs_site: str, tmp_path: Path
) -> None:
    crawler = docs_crawler(docs_site)
    stats = await crawler.crawl(db=tmp_path / "docs.db", progress=False)
    assert stats.pages == 11 and stats.items == 10
    assert len(crawler.items) == 10
    titles = sorted(item["title"] for item in crawler.items)
    assert titles == sorted(f"Page {i}" for i in range(10))
    assert crawler.export(tmp_path / "pages.csv") == 10
    assert crawler.export(tmp_path / "pages.jsonl") == 10
    rows = list(csv.DictReader((tmp_path / "pages.csv").read_text("utf-8-sig").splitlines()))
    assert list(rows[0]) == ["url", "title", "number"]
    lines = [json.loads(line) for line in (tmp_path / "pages.jsonl").read_text().splitlines()]
    assert {(r["url"], r["title"], str(r["number"])) for r in lines} == {
        (r["url"], r["title"], r["number"]) for r in rows}

    # The same call again resumes: nothing left to fetch, the items stay.
    again = docs_crawler(docs_site)
    stats = await again.crawl(db=tmp_path / "docs.db", progress=False)
    assert stats.pages == 0 and len(again.items) == 10


async def test_attrs_items_and_memory_items(docs_site: str) -> None:
    crawler = docs_crawler(docs_site, "attrs")
    await crawler.crawl(progress=False)
    assert len(crawler.items) == 10
    assert set(crawler.items[0]) == {"url", "title"}


async def test_pydantic_items(docs_site: str) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Model(pydantic.BaseModel):  # type: ignore[misc,name-defined]
        url: str

    crawler = Crawler()

    @crawler.start(docs_site + "/page/1")
    async def one(resp: Response) -> AsyncIterator[Any]:
        yield Model(url=resp.url)

    await crawler.crawl(progress=False)
    assert list(crawler.items) == [{"url": docs_site + "/page/1"}]


async def test_json_and_bad_xpath(docs_site: str) -> None:
    got: list[Any] = []
    crawler = Crawler()

    @crawler.start(docs_site + "/api")
    async def api(resp: Response) -> AsyncIterator[Any]:
        got.append(resp.json())
        yield resp.follow("/page/2", page)

    @crawler.handler
    async def page(resp: Response) -> AsyncIterator[Any]:
        yield {"n": resp.xpath("//p[@class=$cls]/text()", cls="n").get()}
        resp.xpath("//p[")

    with pytest.raises(InvalidSelector, match="bad XPath"):
        await crawler.crawl(progress=False)
    assert got == [{"pages": 10, "名": "文档"}]


async def test_nothing_fetched_warns_with_the_first_error_and_what_to_do(
    demo_server: DemoServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    crawler = Crawler()  # the default User-Agent: the replica answers 418, as douban does

    @crawler.start(demo_server.url("/cinema/later/beijing/"))
    async def listing(resp: Response) -> AsyncIterator[Any]:
        yield {"url": resp.url}

    stats = await crawler.crawl(progress=False)
    assert stats.pages == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "nothing was fetched" in err[0] and "418" in err[0] and "user_agent" in err[0]


async def test_progress_and_summary_on_request(
    docs_site: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    crawler = docs_crawler(docs_site)
    await crawler.crawl(progress=True)
    err = capsys.readouterr().err
    assert "pages" in err and "200" in err


async def test_browser_user_agent_gets_movies(demo_server: DemoServer) -> None:
    crawler = Crawler(user_agent=BROWSER_UA)

    @crawler.start(demo_server.url("/cinema/later/beijing/"))
    async def listing(resp: Response) -> AsyncIterator[Any]:
        for a in resp.css("#showing-soon .item h3 a"):
            yield {"name": a.text(strip=True)}

    await crawler.crawl(progress=False)
    assert len(crawler.items) == 40


def test_crawl_items_is_a_readable_stream() -> None:
    rows = [{"n": i} for i in range(150)]
    reads: list[int] = []

    def read() -> list[dict[str, int]]:
        reads.append(1)
        return rows

    items = corocrawl.CrawlItems(read, "test")
    assert len(items) == 150 and items[3] == {"n": 3} and items[-1] == {"n": 149}
    assert items == rows and items != rows[:-1]
    with pytest.raises(IndexError):
        items[150]
    shown = repr(items)
    assert shown.startswith("[{'n': 0}") and "... (150 items in test)]" in shown
    assert len(reads) > 1, "every use reads the store again: nothing is cached"
