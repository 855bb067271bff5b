"""Scrapy on the broad web: follow every link, one download slot per ``host:port``.

Scrapy keys its slots by host name, so every port of 127.0.0.1 would share one slot;
a downloader middleware that runs first (robots.txt requests pass through it too) sets
``meta["download_slot"]`` to the URL's ``host:port``. Scrapy does not read robots.txt
``Crawl-delay``: ``--delay`` sets DOWNLOAD_DELAY, its per-slot delay, instead.

Twisted's own reactor, not the asyncio one Scrapy 2.19 installs by default: under the
asyncio reactor its downloader starts each download with ``loop.create_task``, so a
slot's ``transferring`` set fills only after the loop that checks it has emptied the
slot's queue, and one host got 18 requests at once against CONCURRENT_REQUESTS_PER_DOMAIN
= 2 (measured here). With Twisted's reactor the coroutine starts at once and the cap holds.

    python scrapy_broad.py SEED --concurrency 64 --per-host 2 [--delay 1]
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess


class SlotPerNetloc:
    """A download slot per ``host:port`` instead of per host name."""

    def process_request(self, request: Any, spider: Any = None) -> None:
        request.meta.setdefault("download_slot", urlsplit(request.url).netloc)


class BroadSpider(scrapy.Spider):
    name = "broad"

    def __init__(self, seed: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [seed]

    def parse(self, response: Any) -> Any:
        yield {"url": response.url}
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seed")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--max-time", type=float, default=0.0, help="CLOSESPIDER_TIMEOUT")
    args = parser.parse_args()
    settings: dict[str, Any] = {
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.per_host,
        "DOWNLOAD_DELAY": args.delay,
        "DOWNLOAD_DELAY_JITTER": 0,
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "TWISTED_REACTOR": "twisted.internet.epollreactor.EPollReactor",
        "CLOSESPIDER_TIMEOUT": args.max_time,
        "DOWNLOADER_MIDDLEWARES": {f"{__name__}.SlotPerNetloc": 1},
    }
    process = CrawlerProcess(settings)
    process.crawl(BroadSpider, seed=args.seed)
    process.start()


if __name__ == "__main__":
    main()
