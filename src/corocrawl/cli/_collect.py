"""``corocrawl collect``: drain a shared Redis crawl's items into SQLite, JSONL, JSON or CSV."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from .._exceptions import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``collect`` subcommand."""
    parser = subparsers.add_parser(
        "collect",
        help="copy a shared (Redis) crawl's items into SQLite/JSONL/JSON/CSV",
        description="Upsert every item of a shared crawl by key. Idempotent: running it twice, "
        "or while workers still crawl, leaves the same rows (a later run adds what is new).",
        epilog="example:\n  corocrawl collect --redis redis://127.0.0.1:6379/0 --db movies.db "
        "-o movies.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--redis", metavar="URL", required=True, help="e.g. redis://host:6379/0")
    parser.add_argument("--crawl-name", default=None, help="which shared crawl (default: default)")
    parser.add_argument("--db", metavar="PATH", help="SQLite file to upsert items into")
    parser.add_argument(
        "-o", "--output", action="append", default=[], metavar="PATH",
        help="items.jsonl, items.json or items.csv (rewritten); repeatable",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Collect; exit 0 with items, 1 when the crawl holds none."""
    from ..redis import DEFAULT_CRAWL_NAME, require_redis
    from ..redis._worker import collect
    from ..sinks._files import check_export_path

    if not args.db and not args.output:
        raise UsageError("collect needs somewhere to write: give --db out.db and/or -o items.jsonl")
    require_redis()
    crawl_name = args.crawl_name or DEFAULT_CRAWL_NAME
    db = Path(args.db) if args.db else None
    outputs = [check_export_path(out) for out in args.output]
    count = asyncio.run(collect(args.redis, crawl_name, db=db, outputs=outputs))
    targets = " and ".join(str(p) for p in (db, *outputs) if p is not None)
    print(f"collected {count} items of crawl {crawl_name!r} into {targets}")
    return 0 if count else 1
