"""The ``--redis`` family of flags, and the ``RedisOptions`` they make.

The redis package only ever sees ``RedisOptions``: argparse stays in the CLI.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..redis import RedisOptions
    from ._settings import Settings

#: ``corocrawl.redis.DEFAULT_CRAWL_NAME``, written out: importing it would load the
#: Redis client just to print --help (tests/redis/test_redis_worker.py checks they agree).
DEFAULT_CRAWL_NAME = "default"


def add_redis_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--redis URL`` and its companions to a crawling subcommand."""
    group = parser.add_argument_group("distributed crawl (Redis)")
    group.add_argument(
        "--redis", metavar="URL", help="share the crawl through Redis, e.g. redis://host:6379/0"
    )
    group.add_argument(
        "--crawl-name",
        default=DEFAULT_CRAWL_NAME,
        help="workers with the same name share one crawl",
    )
    group.add_argument(
        "--lease-seconds",
        type=float,
        default=30.0,
        help="how soon a dead worker's requests go to others",
    )
    group.add_argument(
        "--expected-urls",
        type=int,
        default=1_000_000,
        help="sizes the dedup buckets (first worker decides)",
    )
    group.add_argument(
        "--collect", action="store_true", help="after the crawl, also collect the items"
    )


def redis_options_from_args(args: Settings) -> RedisOptions | None:
    """The worker's RedisOptions from parsed flags, or None without ``--redis``."""
    url = getattr(args, "redis", None)
    if not url:
        return None  # before the import: the Redis client costs ~120 ms of start-up
    from ..redis import RedisOptions, require_redis

    require_redis()
    collect = getattr(args, "collect", False)
    db = getattr(args, "db", None)
    output = getattr(args, "output", None)  # a list where -o repeats: the command exports those
    return RedisOptions(
        url=url,
        crawl_name=args.crawl_name,
        lease_seconds=args.lease_seconds,
        expected_urls=args.expected_urls,
        collect_db=Path(db) if collect and db else None,
        collect_out=Path(output) if collect and isinstance(output, str) else None,
    )
