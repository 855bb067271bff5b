"""Distributed crawling on Redis: a shared host-aware frontier, items and status.

Everything here needs the ``redis`` extra (``pip install 'corocrawl[redis]'``);
importing this package works without it, creating any of its objects raises
``MissingExtra`` with the command to run.
"""

from ._frontier import RedisFrontier
from ._link import DEFAULT_CRAWL_NAME, MISSING_EXTRA_MESSAGE, CrawlKeys, require_redis
from ._sink import RedisSink
from ._status import (
    collect_into,
    format_status,
    list_crawls,
    read_items,
    redis_status,
    redis_status_async,
)
from ._worker import RedisOptions, crawl_shared, run_shared

__all__ = [
    "DEFAULT_CRAWL_NAME",
    "MISSING_EXTRA_MESSAGE",
    "CrawlKeys",
    "RedisFrontier",
    "RedisOptions",
    "RedisSink",
    "collect_into",
    "crawl_shared",
    "format_status",
    "list_crawls",
    "read_items",
    "redis_status",
    "redis_status_async",
    "require_redis",
    "run_shared",
]
