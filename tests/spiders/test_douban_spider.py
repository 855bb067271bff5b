"""The douban spider end to end against the embedded replica on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yarl import URL

from corocrawl import CrawlConfig, CrawlStats
from corocrawl.demo import DemoConfig, DemoServer, expected_items
from corocrawl.spiders.douban import BROWSER_USER_AGENT, FIELDS, build_crawler, complete

TODAY = dt.date(2026, 11, 27)


def _path(url: str | None) -> str | None:
    return URL(url).path_qs if url else None


async def crawl(demo: DemoConfig, **settings: Any) -> tuple[list[dict[str, Any]], CrawlStats,
                                                            DemoServer]:
    config = CrawlConfig(**{"user_agent": BROWSER_USER_AGENT, "backoff_base": 0.01, **settings})
    async with DemoServer(demo) as server:
        crawler = build_crawler(
            [server.url(f"/cinema/later/{city}/") for city in demo.cities],
            config=config, today=TODAY,
        )
        stats = await crawler.crawl()
    items = sorted((complete(i) for i in crawler.items), key=lambda i: i["subject_id"])
    return items, stats, server


def _as_expected(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item["name"], "date": item["date"], "release_date": item["release_date"],
        "genre": item["genre"], "region": item["region"], "wants": item["wants"],
        "subject_id": item["subject_id"], "url_path": _path(item["url"]),
        "thumb_path": _path(item["thumb_url"]), "poster_path": _path(item["poster_url"]),
    }


def _expected(demo: DemoConfig) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in e.items() if k != "city"} for e in expected_items(demo)]
    return sorted(rows, key=lambda e: e["subject_id"])


async def test_every_movie_with_its_poster() -> None:
    demo = DemoConfig(movies=60, cities=("beijing", "shanghai"), today=TODAY, seed=3)
    items, stats, server = await crawl(demo, concurrency=16)
    assert [_as_expected(i) for i in items] == _expected(demo)
    assert all(list(i) == list(FIELDS) for i in items)
    assert stats.pages == 62 and stats.error_count == 0
    assert max(server.stats.fetches.values()) == 1, "no page fetched twice"
    assert any(i["wants"] is None for i in items), "the replica has items without 想看"


async def test_transient_errors_are_retried_to_completion() -> None:
    demo = DemoConfig(movies=40, today=TODAY, error_rate=0.4, seed=5)
    items, stats, _ = await crawl(demo, concurrency=8)
    assert stats.retries > 0
    assert stats.error_count == 0
    assert [_as_expected(i) for i in items] == _expected(demo)


async def test_half_the_details_failing_keeps_every_list_item() -> None:
    demo = DemoConfig(movies=40, today=TODAY, fail_rate=0.5, seed=7)
    items, stats, _ = await crawl(demo, concurrency=8, retries=1)
    expected = _expected(demo)
    failing = sum(1 for e in expected if e["poster_path"] is None)
    assert 10 <= failing <= 30
    assert len(items) == 40
    assert [_as_expected(i) for i in items] == expected, "failed details: list fields, no poster"
    assert stats.error_kinds["http_500"] == failing
    failed_urls = {_path(e.url) for e in stats.errors}
    assert failed_urls == {e["url_path"] for e in expected if e["poster_path"] is None}


async def test_gbk_list_page_is_decoded() -> None:
    demo = DemoConfig(movies=20, cities=("shenzhen",), gbk_cities=("shenzhen",), today=TODAY)
    items, _stats, _ = await crawl(demo)
    assert [_as_expected(i) for i in items] == _expected(demo)
    assert all("\ufffd" not in i["name"] for i in items)


async def test_per_host_cap_holds_on_the_server() -> None:
    demo = DemoConfig(movies=60, today=TODAY, latency=(0.02, 0.05))
    _, stats, server = await crawl(demo, concurrency=32, per_host=4)
    assert stats.pages == 61
    assert server.stats.max_in_flight == 4


async def test_a_bot_user_agent_gets_418() -> None:
    demo = DemoConfig(movies=5, today=TODAY)
    items, stats, _server = await crawl(demo, user_agent="python-requests/2.32")
    assert items == []
    assert stats.error_kinds["blocked"] == 1
    assert "bot" in stats.errors[0].message


async def test_parsing_in_worker_processes_gives_the_same_items() -> None:
    demo = DemoConfig(movies=60, cities=("beijing",), today=TODAY, seed=11, fail_rate=0.1)
    items, stats, _ = await crawl(demo, concurrency=16, processes=2, retries=0)
    assert [_as_expected(i) for i in items] == _expected(demo)
    assert stats.pages + stats.error_kinds["http_500"] == 61
