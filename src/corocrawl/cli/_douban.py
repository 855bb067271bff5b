"""``corocrawl douban``: crawl douban's upcoming movies, live or from a mirror."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from .._config import CrawlConfig
from .._exceptions import BlockedError, UsageError
from .._request import parse_url
from .._stats import CrawlStats
from ..sinks._files import check_export_path, export_items
from ..spiders.douban import (
    BROWSER_USER_AGENT,
    FIELDS,
    build_crawler,
    complete,
    douban_host_policy,
    list_url,
)
from ._options import (
    add_crawl_options,
    add_output_options,
    check_db_path,
    check_log_json,
    crawl_config,
)
from ._output import (
    command_output,
    download_all_posters,
    print_movies,
    print_posters,
    print_saved,
    run_crawler,
)
from ._redis_options import add_redis_arguments, redis_options_from_args
from ._settings import AddsCommands, Settings

EXAMPLES = """examples:
  corocrawl douban --city shanghai -o movies.jsonl -o movies.csv
  corocrawl douban --start-url http://127.0.0.1:8080/cinema/later/beijing/ --concurrency 64
  corocrawl douban --user-agent "Mozilla/5.0 ..." --delay 3     # if douban answers 418
  corocrawl douban --posters posters && corocrawl report --posters posters
"""


def register(sub: AddsCommands) -> None:
    parser = sub.add_parser(
        "douban",
        help="crawl douban's upcoming movies (即将上映) with posters",
        description="Crawl douban's upcoming-movies list and every movie's detail page for "
        "its full-size poster. Items land in the SQLite --db; -o exports them.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--city", default="beijing", help="city slug of the live list page (default beijing)"
    )
    parser.add_argument(
        "--start-url",
        action="append",
        dest="start_urls",
        metavar="URL",
        help="a list page to start from instead (a mirror); repeatable",
    )
    add_output_options(
        parser, db_help="SQLite file for the crawl's state and items (default corocrawl.db)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="forget the stored crawl in --db and start over"
    )
    parser.add_argument(
        "--posters",
        metavar="DIR",
        help="download every full-size poster into DIR (named <subject_id>-<hash>.<ext>); "
        "douban's image hosts get the same ~2 s spacing as its pages",
    )
    parser.add_argument("--today", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    add_crawl_options(parser, CrawlConfig(user_agent=BROWSER_USER_AGENT))
    add_redis_arguments(parser)
    parser.set_defaults(run=run)


def run(args: Settings) -> int:
    start_urls = args.start_urls or [list_url(args.city)]
    return crawl_douban(args, start_urls)


def crawl_douban(
    args: Settings, start_urls: Sequence[str], *, fresh: bool | None = None
) -> int:
    """Crawl ``start_urls`` into ``args.db``, export, print; return the exit code."""
    start_urls = [str(parse_url(url)) for url in start_urls]
    outputs = [check_export_path(out) for out in args.output]
    db = check_db_path(args.db)
    check_log_json(getattr(args, "log_json", None))
    config = crawl_config(args, CrawlConfig(user_agent=BROWSER_USER_AGENT))
    # Flags (and env, file) override the polite defaults for douban's own hosts.
    polite = not args.given("per_host") and not args.given("delay")
    shared = redis_options_from_args(args)
    # One runner for every spider: the douban one runs like a user's (corocrawl run),
    # in the SQLite --db or as one worker of a shared Redis crawl.
    crawler = build_crawler(start_urls, config=config, today=args.today,
                            polite_to_douban=polite)
    # The command explains a crawl that got nowhere itself (see _exit_code).
    stats = run_crawler(crawler, command_output(args, warn=False),
                        db=None if shared is not None else db, redis=shared,
                        fresh=args.fresh if fresh is None else fresh)

    def stored() -> Iterator[dict[str, Any]]:
        return (complete(item) for item in crawler.items)

    # The items to export are the whole shared crawl's; --db only with --collect.
    saved_db = db if shared is None else shared.collect_db
    # Items are read back from the store as streams, not held in a list: a
    # 100,000-movie crawl would otherwise double its memory at the very end.
    for out in outputs:
        export_items(crawler.items, out, FIELDS)  # FIELDS picks what complete() would
    count = len(crawler.items)  # a COUNT(*) in the store, not every item decoded
    posters = getattr(args, "posters", None)
    if posters:
        policy = douban_host_policy if polite else None
        report = download_all_posters(list(stored()), posters, config, policy, quiet=args.quiet)
        print_posters(report, posters, quiet=args.quiet)
    if not args.quiet:
        print_movies(stored(), total=count)
        print_saved(exports=outputs, db=saved_db)
    gallery = getattr(args, "report", None)
    if gallery:
        from ..report import write_gallery  # only with --report

        page = write_gallery(stored(), gallery, poster_dir=posters,
                             remote_posters=getattr(args, "remote_posters", False))
        if not args.quiet:
            print(f"poster gallery: {page.resolve()}")
    return _exit_code(stats, start_urls, count)


def _exit_code(stats: CrawlStats, start_urls: Sequence[str], items: int) -> int:
    """0 if the crawl got somewhere; explain the common ways it gets nowhere."""
    if stats.pages > 0 or (items and not stats.error_count):
        return 0
    starts = set(start_urls)
    for error in stats.errors:
        if error.kind == "blocked":
            raise BlockedError(
                f"{error.url} refused us as a bot ({error.message.split(':')[0]}): send a browser "
                "User-Agent with --user-agent and slow down with --delay 3"
            )
        if error.url in starts and error.kind == "http_404":
            raise UsageError(
                f"no such list page {error.url} (HTTP 404): check --city or --start-url"
            )
        if error.url in starts and error.kind in ("connect", "timeout", "disconnect"):
            raise UsageError(
                f"cannot reach {error.url}: {error.message}; check the URL and that the site is up"
            )
    return 1
