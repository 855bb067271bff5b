"""The spider the distributed tests run, in-process or as a worker subprocess.

As a script: ``python redis_spider.py SITE_URL --redis URL --crawl-name N --worker-id W``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

from corocrawl import Crawler, Request, Response


def build(site: str, **settings: Any) -> Crawler:
    crawler = Crawler(item_key="subject_id", **settings)

    @crawler.start(f"{site}/later/0/")
    async def listing(resp: Response) -> AsyncIterator[Request | dict[str, Any]]:
        for node in resp.css("#showing-soon .item"):
            link = node.css_first("h3 a")
            href = link.attrs["href"] or ""
            yield {"subject_id": href.strip("/").rsplit("/", 1)[-1], "name": link.text()}
            yield resp.follow(href, detail)
        for nxt in resp.css("a.next"):
            yield resp.follow(nxt.attrs["href"] or "", listing)

    @crawler.handler
    async def detail(resp: Response) -> AsyncIterator[dict[str, Any]]:
        img = resp.css_first("#mainpic img")
        yield {
            "subject_id": resp.url.strip("/").rsplit("/", 1)[-1],
            "poster_url": resp.urljoin(img.attrs["src"] or "") if img else None,
        }

    return crawler


def main() -> int:
    from corocrawl.redis import RedisOptions, run_shared

    parser = argparse.ArgumentParser()
    parser.add_argument("site")
    parser.add_argument("--redis", required=True)
    parser.add_argument("--crawl-name", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--lease-seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--per-host", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    crawler = build(args.site, concurrency=args.concurrency, per_host=args.per_host, retries=5)
    options = RedisOptions(
        args.redis, args.crawl_name, lease_seconds=args.lease_seconds, worker_id=args.worker_id
    )
    stats = run_shared(crawler, options)
    print(json.dumps({"worker": args.worker_id, "pages": stats.pages, "errors": stats.error_count}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
