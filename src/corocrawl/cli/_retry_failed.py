"""``corocrawl retry-failed``: queue a stored crawl's failed requests again."""

from __future__ import annotations

import argparse
import asyncio

from ..store import SqliteStore
from ._settings import AddsCommands, Settings
from ._store_args import add_db_option, existing_db


def register(sub: AddsCommands) -> None:
    parser = sub.add_parser(
        "retry-failed",
        help="queue the failed requests of a stored crawl again",
        description="Mark every failed request in --db pending again, with a fresh retry "
        "count. The next run of the same crawl command fetches them.",
        epilog="example:\n  corocrawl retry-failed --db corocrawl.db && corocrawl douban",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(parser)
    parser.set_defaults(run=run)


async def _requeue(store: SqliteStore) -> int:
    async with store:
        return await store.requeue_failed()


def run(args: Settings) -> int:
    path = existing_db(args.db)
    # Opening takes the process lock: a crawl running on this file is refused, not raced.
    count = asyncio.run(_requeue(SqliteStore(path)))
    if count:
        print(f"queued {count:,} failed requests again in {path}; run the same crawl "
              "command to fetch them")
    else:
        print(f"no failed requests in {path}")
    return 0
