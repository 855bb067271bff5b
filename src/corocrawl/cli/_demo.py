"""``corocrawl demo``: the douban crawl against the embedded replica, offline."""

from __future__ import annotations

import argparse
import datetime as dt

from .._config import CrawlConfig
from ..demo import DemoConfig, DemoServerThread
from ..spiders.douban import BROWSER_USER_AGENT
from ._douban import crawl_douban
from ._options import add_crawl_options, add_output_options, positive_int


def _latency(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not MIN-MAX seconds, e.g. 0.05-0.3"
        ) from None
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= MIN <= MAX")
    return pair


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="crawl the embedded douban replica (offline) and show the movies",
        description="Start the embedded douban replica on a free port, crawl it with the "
        "douban spider, print the movies and a summary. Items land in --db.",
        epilog="examples:\n  corocrawl demo --movies 100 --latency 0.1-0.5 -o movies.csv\n"
        "  corocrawl demo --report gallery.html --posters gallery-posters",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--movies", type=positive_int, default=40, help="movies (default 40)")
    parser.add_argument(
        "--cities",
        default="beijing,shanghai",
        help="comma-separated city slugs (default beijing,shanghai)",
    )
    parser.add_argument(
        "--latency",
        type=_latency,
        default=(0.05, 0.3),
        metavar="MIN-MAX",
        help="per-request latency of the replica in seconds (default 0.05-0.3)",
    )
    add_output_options(
        parser, db_help="SQLite file for the items (default corocrawl.db; started afresh)"
    )
    parser.add_argument(
        "--posters",
        metavar="DIR",
        default="posters",
        help="download the posters into DIR (default posters), for the gallery",
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        default="movies.html",
        help="write the HTML poster gallery to FILE (default movies.html)",
    )
    parser.add_argument("--today", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    add_crawl_options(parser, CrawlConfig(user_agent=BROWSER_USER_AGENT))  # as douban's
    parser.set_defaults(run=run, fresh=True)


def run(args: argparse.Namespace) -> int:
    cities = tuple(c.strip() for c in args.cities.split(",") if c.strip())
    config = DemoConfig(movies=args.movies, cities=cities, latency=args.latency)
    with DemoServerThread(config) as server:
        start_urls = [server.url(f"/cinema/later/{city}/") for city in cities]
        if not args.quiet:
            print(f"replica of douban serving {args.movies} movies at {server.base_url}")
        return crawl_douban(args, start_urls, fresh=True)
