"""``corocrawl crawl``: crawl any site within scope and record every page."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import CrawlConfig
from .._exceptions import UsageError
from .._links import compile_patterns
from .._run import RunOutput
from .._running import graceful_signals, loop_factory
from ..sinks._files import check_export_path, export_items
from ..spiders._pagestore import PAGE_FIELDS, is_page_record, public_record, read_pages
from ..spiders.generic import CrawlResult, GenericCrawl, GenericOptions
from ..store import SqliteStore
from ._options import (
    add_crawl_options,
    check_db_path,
    check_log_json,
    crawl_config,
    non_negative_int,
)
from ._output import command_output, console, print_summary
from ._redis_options import add_redis_arguments, redis_options_from_args
from ._settings import AddsCommands, Settings

if TYPE_CHECKING:
    from ..redis import RedisOptions

EXAMPLES = """examples:
  corocrawl crawl https://docs.example.com/ -o pages.jsonl
  corocrawl crawl https://example.com/ --allow-domain example.com --exclude '\\?page=\\d{3,}'
  corocrawl crawl https://example.com/blog/ --include '/blog/' --max-depth 3 --sitemaps
  corocrawl crawl https://example.com/ --save-pages mirror/ --warc site.warc.gz
  corocrawl links --db corocrawl.db          # then list the broken links
  corocrawl crawl https://example.com/ --redis redis://host:6379/0 --crawl-name site  # a worker
  corocrawl collect --redis redis://host:6379/0 --crawl-name site --db site.db
"""


def _size(text: str) -> int:
    """``10MB``, ``512k``, ``1048576`` → bytes."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    raw = text.strip().lower().removesuffix("b").removesuffix("i")
    factor = units.get(raw[-1:], 1)
    number = raw[:-1] if raw[-1:] in units else raw
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 10MB or 512k") from None
    if value < 1024:
        raise argparse.ArgumentTypeError(f"{text!r}: the size limit must be at least 1k")
    return value


def register(sub: AddsCommands) -> None:
    parser = sub.add_parser(
        "crawl",
        help="crawl any site: follow links within scope, record every page",
        description="Follow links from the start URLs within scope (same host by default) and "
        "record every page (url, status, title, links, errors) in the SQLite --db. "
        "Obeys robots.txt and adapts its pace to the site's latency by default.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("urls", nargs="+", metavar="URL", help="start URL(s)")
    scope = parser.add_argument_group("scope")
    scope.add_argument("--allow-domain", action="append", default=[], metavar="DOMAIN",
                       help="also follow links to DOMAIN and its subdomains; repeatable")
    scope.add_argument("--include", action="append", default=[], metavar="REGEX",
                       help="follow only URLs matching REGEX (any of them); repeatable")
    scope.add_argument("--exclude", action="append", default=[], metavar="REGEX",
                       help="never follow URLs matching REGEX; repeatable")
    scope.add_argument("--max-depth", type=non_negative_int, metavar="N",
                       help="follow links at most N clicks away from a start URL")
    scope.add_argument("--sort-query", action="store_true",
                       help="treat ?a=1&b=2 and ?b=2&a=1 as the same URL")
    scope.add_argument("--respect-nofollow", action="store_true",
                       help="skip rel=nofollow links (followed by default)")
    polite = parser.add_argument_group("politeness")
    polite.add_argument("--ignore-robots", action="store_true",
                        help="do not fetch or obey robots.txt (only where you may)")
    polite.add_argument("--sitemaps", action="store_true",
                        help="also start from the URLs in the sites' sitemaps")
    polite.add_argument("--no-autothrottle", action="store_true",
                        help="turn off the adaptive per-host delay")
    polite.add_argument("--target-concurrency", type=float, default=2.0, metavar="N",
                        help="requests the adaptive delay aims to keep in flight per host "
                        "(default 2)")
    out = parser.add_argument_group("output")
    out.add_argument("--db", default="corocrawl.db", metavar="PATH",
                     help="SQLite file for the page records (default corocrawl.db; with "
                     "--redis, where --collect gathers the whole crawl's pages)")
    out.add_argument("--fresh", action="store_true",
                     help="forget the crawl stored in --db and start over (default: resume)")
    out.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                     help="export the page records to FILE (.jsonl, .json or .csv); repeatable")
    out.add_argument("--save-pages", type=Path, metavar="DIR",
                     help="save each page's body under DIR/<host>/<path>")
    out.add_argument("--warc", type=Path, metavar="FILE",
                     help="write requests and responses to a WARC file (FILE.warc.gz)")
    out.add_argument("--max-body", type=_size, metavar="SIZE",
                     help="cut bodies longer than SIZE, e.g. 10MB (default 10MB)")
    add_crawl_options(parser)
    add_redis_arguments(parser)
    parser.set_defaults(run=run)


def options_from_args(args: Settings) -> GenericOptions:
    """The crawl's options; bad patterns fail here, before any request."""
    compile_patterns(args.include, "--include")
    compile_patterns(args.exclude, "--exclude")
    if args.target_concurrency <= 0:
        raise UsageError("--target-concurrency must be more than 0, like 2")
    if args.warc is not None and not args.warc.name.endswith((".warc", ".warc.gz")):
        raise UsageError(f"--warc {args.warc}: name the file like site.warc.gz")
    return GenericOptions(
        start_urls=args.urls,
        allow_domains=args.allow_domain,
        include=args.include,
        exclude=args.exclude,
        sort_query=args.sort_query,
        respect_nofollow=args.respect_nofollow,
        ignore_robots=args.ignore_robots,
        sitemaps=args.sitemaps,
        adaptive=not args.no_autothrottle,
        target_concurrency=args.target_concurrency,
        save_pages=args.save_pages,
        warc=args.warc,
    )


def run(args: Settings) -> int:
    options = options_from_args(args)
    outputs = [check_export_path(out) for out in args.output]
    # --redis: one worker of a shared crawl, its pages kept in Redis (--db only
    # with --collect, which gathers the whole crawl's pages there at the end).
    shared = redis_options_from_args(args)
    db = check_db_path(args.db) if shared is None or shared.collect_db else None
    config = crawl_config(args, CrawlConfig())
    changes: dict[str, Any] = {}
    if args.max_depth is not None:
        changes["max_depth"] = args.max_depth
    if args.max_body is not None:
        changes["max_body"] = args.max_body
    if changes:
        config = dataclasses.replace(config, **changes)
    check_log_json(args.log_json)
    if shared is not None:
        if args.fresh:
            raise UsageError("fresh (--fresh) starts a stored crawl over; to start a "
                             "shared crawl over, give it a new crawl_name (--crawl-name)")
        crawl = GenericCrawl(options, config=config, redis=shared)
    else:
        # The SQLite store makes the crawl resumable: run the same command again after
        # a crash or Ctrl-C and it continues. Page records also go to its items.
        assert db is not None
        store = SqliteStore(db, fresh=args.fresh, item_key="requested_url")
        crawl = GenericCrawl(
            options, config=config, db=db, frontier=store.frontier, sinks=[store.sink],
            fresh=args.fresh,
        )
    # The runner every command shares: live progress on stderr and --log-json
    # events from the engine; the summary is this command's own (below).
    output = dataclasses.replace(command_output(args), summary=False)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        result = runner.run(_crawl_with_signals(crawl, output))
    # The whole crawl's pages: this worker's and its peers' when shared.
    if shared is not None:
        pages = _shared_pages(shared)
    else:
        assert db is not None
        pages = read_pages(db)
    for out in outputs:
        export_items(pages, out, PAGE_FIELDS)
    if not args.quiet:
        print_result(result)
        print_summary(result.stats, exports=outputs, db=db)
    fetched = sum(1 for page in pages if page["status"] is not None and page["status"] < 400)
    return 0 if fetched else 1


def _shared_pages(shared: RedisOptions) -> list[dict[str, Any]]:
    """The page records of a shared crawl, as ``read_pages`` gives a stored one's."""
    if shared.collect_db is not None:
        return read_pages(shared.collect_db)
    from ..redis import read_items

    pairs = read_items(shared.url, shared.crawl_name)
    return [public_record(item) for _, item in pairs if is_page_record(item)]


async def _crawl_with_signals(crawl: GenericCrawl, output: RunOutput) -> CrawlResult:
    """Run the crawl; the first Ctrl-C/SIGTERM stops it gracefully, a second at once."""
    with graceful_signals(crawl.stop):
        return await crawl.crawl(output)


def print_result(result: CrawlResult) -> None:
    """What the generic crawl adds to the summary: scope, robots, politeness per host."""
    stats = result.stats
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(stats.statuses.items()))
    if statuses:
        console.print(f"statuses  {statuses}")
    skipped = [f"{n} {why}" for why, n in sorted(stats.dropped.items()) if n]
    if result.malformed_links:
        skipped.append(f"{result.malformed_links} malformed hrefs")
    if skipped:
        console.print("skipped   " + ", ".join(skipped))
    if result.sitemaps is not None:
        found = result.sitemaps
        console.print(
            f"sitemaps  read {len(found.sitemaps_read)}, listed {len(found.urls)} URLs, "
            f"{len(found.errors)} errors"
        )
    for host, figures in result.politeness.items():
        console.print(
            f"polite    {host}: delay {figures.get('delay_s', 0):.3f} s "
            f"(max {figures.get('max_delay_s', 0):.3f} s, floor {figures['floor_s']:.3f} s), "
            f"mean latency {figures.get('mean_latency_ms') or 0:.1f} ms, "
            f"{figures.get('backoffs', 0)} backoffs, waited {figures['waited_s']:.1f} s"
        )
    if result.saved_pages:
        console.print(f"saved     {result.saved_pages} page bodies")
    if result.warc_records:
        console.print(f"warc      {result.warc_records} records")
