"""``corocrawl run SPIDER.py``: any spider file, with everything the built-in commands have."""

from __future__ import annotations

import argparse
import sys

from ._options import (
    add_crawl_options,
    add_output_options,
    check_db_path,
    check_log_json,
    config_from_args,
)
from ._redis_options import add_redis_arguments, redis_options_from_args

EXAMPLES = """examples:
  corocrawl run spider.py -o items.jsonl                  # SQLite corocrawl.db; rerun resumes
  corocrawl run spider.py --start-url https://example.com/docs/ --max-pages 100
  corocrawl run spider.py --redis redis://host:6379/0 --crawl-name docs   # one worker
  corocrawl config run spider.py                          # the effective settings
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run",
        help="run the Crawler a Python file defines (persistence, resume, progress, exports)",
        description="Run the one Crawler that SPIDER.py builds at module level, with the "
        "SQLite store (kill it and run the same command again: it resumes), progress, "
        "the summary and exports. The file's `if __name__ == '__main__':` block is not run. "
        "Flags, COROCRAWL_* variables and corocrawl.toml override the file's settings.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spider", metavar="SPIDER.py", help="a Python file that builds a Crawler")
    parser.add_argument("--start-url", action="append", dest="start_urls", metavar="URL",
                        help="start from URL instead of the file's start URLs; repeatable")
    add_output_options(parser, db_help="SQLite file for the crawl's state and items "
                       "(default corocrawl.db)")
    parser.add_argument("--fresh", action="store_true",
                        help="forget the crawl stored in --db and start over (default: resume)")
    add_crawl_options(parser)
    add_redis_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `corocrawl run --help` needs none of the engine.
    from ..sinks._files import check_export_path
    from ._output import command_output, run_crawler
    from ._spider_file import SpiderImportError, load_spider, replace_start_urls

    outputs = [check_export_path(out) for out in args.output]
    check_log_json(args.log_json)
    shared = redis_options_from_args(args)
    db = check_db_path(args.db) if shared is None else None
    try:
        crawler = load_spider(args.spider)
    except SpiderImportError as exc:
        sys.stderr.write(exc.report)
        raise
    crawler.config = config_from_args(args, crawler.config)
    if args.start_urls:
        replace_start_urls(crawler, args.start_urls)
    stats = run_crawler(crawler, command_output(args), db=db, redis=shared, fresh=args.fresh)
    for out in outputs:
        crawler.export(out)
    items = len(crawler.items)
    if not args.quiet:
        where = [f"redis crawl {shared.crawl_name!r}" if shared else str(db)]
        where += [str(out) for out in outputs]
        print(f"{items} items in " + ", ".join(where))
    # A resumed crawl with nothing left, or a worker whose peers took every
    # request, fetched nothing but has its items: that is success.
    return 0 if stats.pages > 0 or items > 0 else 1
