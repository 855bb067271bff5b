"""``corocrawl status``: how far a stored crawl got, and what failed."""

from __future__ import annotations

import argparse
import time

from ..store import StoreReader, StoreStatus
from ._store_args import add_db_option, existing_db


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "status",
        help="show a stored crawl's progress: pending, done, failed, items",
        description="Show the progress of the crawl stored in --db: requests pending, in "
        "flight, done and failed (grouped by reason), items, and the last activity. Safe "
        "to run while the crawl is running.",
        epilog="examples:\n  corocrawl status --db corocrawl.db\n"
        "  corocrawl status --redis redis://127.0.0.1:6379/0 --crawl-name douban",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(parser)
    parser.add_argument("--redis", metavar="URL",
                        help="show the shared crawl in this Redis instead of --db")
    parser.add_argument("--crawl-name", default="default",
                        help="name of the shared crawl in Redis (default 'default')")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.redis:
        from ..redis import format_status, redis_status, require_redis

        require_redis()
        shared = redis_status(args.redis, args.crawl_name)
        print(format_status(shared))
        return 0 if shared["exists"] else 1
    path = existing_db(args.db)
    with StoreReader(path) as reader:
        status = reader.status()
    print(render(status, db_arg=args.db))
    return 0


def _when(timestamp: float | None, now: float) -> str:
    if timestamp is None:
        return "never"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
    ago = max(0.0, now - timestamp)
    if ago < 90:
        rel = f"{ago:.0f} s ago"
    elif ago < 90 * 60:
        rel = f"{ago / 60:.0f} min ago"
    elif ago < 36 * 3600:
        rel = f"{ago / 3600:.1f} h ago"
    else:
        rel = f"{ago / 86400:.1f} days ago"
    return f"{stamp} ({rel})"


def _what_to_do(status: StoreStatus, db_arg: str) -> list[str]:
    """retry-failed only where another try may succeed: a 404 stays a 404."""
    from .._fetcher import worth_retrying  # here: it loads aiohttp, which status needs not
    transient = sum(g.count for g in status.failures if worth_retrying(g.reason))
    blocked = sum(g.count for g in status.failures if g.reason == "blocked")
    lines = []
    if transient:
        lines.append(f"{transient:,} failed for reasons that may pass (timeouts, connection "
                     f"errors, 5xx, 429); queue them again with: "
                     f"corocrawl retry-failed --db {db_arg}")
    if blocked:
        lines.append(f"{blocked:,} were refused as a bot: send a browser --user-agent and slow "
                     f"down with --delay, then: corocrawl retry-failed --db {db_arg}")
    if not transient and not blocked:
        lines.append("another try would fail the same way (e.g. 404: the pages do not exist); "
                     "fix the URLs or the spider rather than retrying")
    return lines


def render(status: StoreStatus, *, db_arg: str, now: float | None = None) -> str:
    """The text ``corocrawl status`` prints."""
    now = time.time() if now is None else now
    rows = [
        ("pending", status.pending),
        ("in flight", status.in_flight),
        ("done", status.done),
        ("failed", status.failed),
        ("items", status.items),
    ]
    lines = [f"crawl in {status.path}"]
    lines += [f"  {name:<10}{count:>12,}" for name, count in rows]
    lines.append(f"  last activity  {_when(status.last_activity, now)}")
    if status.in_flight:
        lines.append("  (in flight: being fetched by a running crawl, or left by one that was "
                     "stopped; those are fetched again when the crawl resumes)")
    if status.failures:
        lines.append("failed, by reason:")
        width = max(len(group.reason) for group in status.failures)
        for group in status.failures:
            lines.append(f"  {group.reason:<{width}} {group.count:>8,}   e.g. "
                         f"{group.example_url}: {group.example_error}")
        lines += _what_to_do(status, db_arg)
    if status.pending or status.in_flight:
        lines.append("to continue, run the same crawl command again with the same --db")
    elif status.done or status.failed:
        lines.append("the crawl is complete")
    return "\n".join(lines)
