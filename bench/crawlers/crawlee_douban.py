"""Crawlee for Python: ParselCrawler with a fixed concurrency, default HTTP client and storage.

The dataset is exported to JSON lines at the end (``--out``); Crawlee's storage lives
in the working directory, which the harness makes a temporary one.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urljoin

from _common import list_item, list_urls, parse_args
from crawlee import ConcurrencySettings, Request
from crawlee.crawlers import ParselCrawler, ParselCrawlingContext


async def crawl(args) -> None:  # type: ignore[no-untyped-def]
    c = args.concurrency
    crawler = ParselCrawler(
        concurrency_settings=ConcurrencySettings(
            min_concurrency=c, max_concurrency=c, desired_concurrency=c
        ),
        max_requests_per_crawl=None,
    )

    @crawler.router.default_handler
    async def listing(ctx: ParselCrawlingContext) -> None:
        requests = []
        for node in ctx.selector.css("div#showing-soon > div.item"):
            link = node.css("div.intro h3 a")
            href = link.attrib.get("href", "")
            movie = list_item(
                href, link.css("::text").get(""), node.css("li.dt").xpath("string()").getall()
            )
            url = urljoin(ctx.request.url, href)
            requests.append(Request.from_url(url, label="detail", user_data={"movie": movie}))
        await ctx.add_requests(requests)

    @crawler.router.handler("detail")
    async def detail(ctx: ParselCrawlingContext) -> None:
        src = ctx.selector.css('div#mainpic > a.nbgnbg > img[rel="v:image"]::attr(src)').get()
        if src:
            movie = dict(ctx.request.user_data["movie"])  # type: ignore[call-overload]
            await ctx.push_data({**movie, "poster_url": src})

    await crawler.run(list_urls(args))
    data = await crawler.get_data()
    with args.out.open("w", encoding="utf-8") as f:
        for item in data.items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def main() -> None:
    asyncio.run(crawl(parse_args(__doc__)))


if __name__ == "__main__":
    main()
