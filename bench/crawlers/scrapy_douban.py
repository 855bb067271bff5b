"""Scrapy: the same crawl as a Spider, run with CrawlerProcess.

``--variant default``: Scrapy's default settings, except CONCURRENT_REQUESTS and
CONCURRENT_REQUESTS_PER_DOMAIN = ``--concurrency`` (the default per-domain limit of 8
would cap a one-host crawl) and LOG_LEVEL INFO (DEBUG logs a line per page and item).
``--variant tuned``: also CONCURRENT_ITEMS = 10 (measured: its default of 100 costs
Scrapy per response, and 1000 is 4× slower still), no cookies, retries, redirects,
referer or telnet console, no size checks, LOG_LEVEL WARNING — the usual advice for a
fast crawl.
"""

from __future__ import annotations

from typing import Any

import scrapy
from _common import list_item, list_urls, parse_args
from scrapy.crawler import CrawlerProcess


class DoubanSpider(scrapy.Spider):
    name = "douban"

    def __init__(self, starts: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = starts

    def parse(self, response: Any) -> Any:
        for node in response.css("div#showing-soon > div.item"):
            link = node.css("div.intro h3 a")
            href = link.attrib.get("href", "")
            movie = list_item(
                href, link.css("::text").get(""), node.css("li.dt").xpath("string()").getall()
            )
            yield response.follow(href, self.detail, cb_kwargs={"movie": movie})

    def detail(self, response: Any, movie: dict[str, str]) -> Any:
        src = response.css('div#mainpic > a.nbgnbg > img[rel="v:image"]::attr(src)').get()
        if src:
            yield {**movie, "poster_url": src}


def main() -> None:
    args = parse_args(__doc__)
    settings: dict[str, Any] = {
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "LOG_LEVEL": "INFO",
        "FEEDS": {str(args.out): {"format": "jsonlines", "encoding": "utf-8", "overwrite": True}},
    }
    if args.variant == "tuned":
        settings.update(
            {
                "CONCURRENT_ITEMS": 10,
                "COOKIES_ENABLED": False,
                "RETRY_ENABLED": False,
                "REDIRECT_ENABLED": False,
                "TELNETCONSOLE_ENABLED": False,
                "LOGSTATS_INTERVAL": 3600,
                "LOG_LEVEL": "WARNING",
                "REFERER_ENABLED": False,
                "DOWNLOAD_MAXSIZE": 0,
                "DOWNLOAD_WARNSIZE": 0,
            }
        )
    process = CrawlerProcess(settings)
    process.crawl(DoubanSpider, starts=list_urls(args))
    process.start()


if __name__ == "__main__":
    main()
