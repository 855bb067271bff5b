"""``corocrawl bench``: the lesson's table, live — sequential, threads, coroutines.

It starts the replica site in this process with the latency you pick, crawls the
same pages three ways and prints wall times and speedups. The pages wait on the
"network", so this is the case coroutines are made for; ``make bench`` in a
checkout measures the CPU-bound case against Scrapy and Crawlee.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._config import CrawlConfig
from .._exceptions import MissingExtra, UsageError
from .._request import Request
from .._response import Response
from ._options import positive_int

EXAMPLES = """examples:
  corocrawl bench                              # 40 movies, 0.5-2 s a page
  corocrawl bench --latency 0.1-0.3 --pages 200 --plot bench.png
"""

WHEN_OTHERS_WIN = (
    "These pages spend their time waiting, so coroutines win; threads would win only for a "
    "blocking library with no async version, and processes when parsing rather than waiting "
    "takes the time: pick the model that fits the work."
)
WHEN_NOTHING_WAITS = (
    "These pages barely wait, so there is little for coroutines to overlap and start-up and "
    "parsing set the times; with real latency coroutines win, threads only for a blocking "
    "library with no async version, and processes when parsing takes the time: pick the model "
    "that fits the work."
)


def latency_range(text: str) -> tuple[float, float]:
    """``0.5-2`` → (0.5, 2.0); a single number is a fixed latency."""
    try:
        parts = [float(p) for p in text.split("-")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN-MAX seconds, like 0.5-2") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not 0 <= parts[0] <= parts[1]:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN-MAX seconds with 0 <= MIN <= MAX")
    return parts[0], parts[1]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="crawl the replica sequentially, with threads and with corocrawl; compare",
        description="Start the replica site with a latency per page, crawl the same pages "
        "sequentially, with a thread pool and with corocrawl's coroutines, and print wall "
        "times and speedups.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--latency",
        type=latency_range,
        default=(0.5, 2.0),
        metavar="MIN-MAX",
        help="seconds each page takes to answer (default 0.5-2)",
    )
    parser.add_argument(
        "--pages",
        type=positive_int,
        default=40,
        metavar="N",
        help="movies (detail pages) on the replica (default 40)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=min(32, (os.cpu_count() or 1) + 4),
        metavar="N",
        help="thread pool size (default: the standard library's)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=64,
        metavar="N",
        help="corocrawl's requests in flight (default 64)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.png",
        help="draw a bar chart of the wall times (needs matplotlib)",
    )
    parser.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Way:
    """One way of crawling and how it went."""

    label: str
    wall: float
    movies: int  # movies found with their poster


def _fetch_page(url: str, user_agent: str) -> Response:
    req = urllib.request.Request(url, headers={"User-Agent": user_agent})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return Response(
            url, resp.status, dict(resp.headers.items()), resp.read(), Request(url, "bench")
        )


def _blocking_crawl(start: str, user_agent: str, pool: ThreadPoolExecutor | None) -> int:
    """Sequential (``pool`` None) or threaded crawl of one list page and its details."""
    from ..spiders._douban_parse import parse_list, parse_poster

    listing = _fetch_page(start, user_agent)
    urls = [movie["url"] for movie in parse_list(listing.dom, listing.url)]

    def poster(url: str) -> str | None:
        page = _fetch_page(url, user_agent)
        return parse_poster(page.dom, page.url)

    if pool is None:
        posters = [poster(url) for url in urls]
    else:
        posters = [f.result() for f in as_completed([pool.submit(poster, url) for url in urls])]
    return sum(1 for p in posters if p)


def _corocrawl(start: str, concurrency: int, user_agent: str) -> int:
    from ..spiders.douban import build_crawler

    config = CrawlConfig(concurrency=concurrency, per_host=concurrency, user_agent=user_agent)
    crawler = build_crawler([start], config=config, polite_to_douban=False)
    crawler.run(handle_signals=False, progress=False)  # the bench prints its own table
    return sum(1 for item in crawler.items if item.get("poster_url"))


def _timed(label: str, crawl: Callable[[], int]) -> Way:
    print(f"  {label} ...", end="", flush=True)
    started = time.perf_counter()
    movies = crawl()
    way = Way(label, time.perf_counter() - started, movies)
    print(f" {way.wall:.2f} s", flush=True)
    return way


def _check_plot(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        # Imported by name: matplotlib is an optional extra without type stubs.
        importlib.import_module("matplotlib").use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        raise MissingExtra(
            "--plot needs matplotlib: pip install 'corocrawl[plot]' (or run without --plot)"
        ) from None
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--plot {path}: give a .png, .svg or .pdf file name")
    return plt


def run(args: argparse.Namespace) -> int:
    plt = _check_plot(args.plot)
    try:
        from ..demo import DemoConfig, DemoServerThread
    except ImportError:  # pragma: no cover - the replica ships with corocrawl
        raise MissingExtra("corocrawl bench needs the replica site (corocrawl.demo)") from None
    from ..spiders.douban import BROWSER_USER_AGENT

    low, high = args.latency
    config = DemoConfig(movies=args.pages, latency=(low, high))
    pages = args.pages + 1
    print(
        f"corocrawl bench: {args.pages} movies ({pages} pages) on the replica, "
        f"{low:g}-{high:g} s a page"
    )
    with DemoServerThread(config, use_uvloop=True) as server:
        start = server.list_urls()[0]
        ways = [_timed("sequential", lambda: _blocking_crawl(start, BROWSER_USER_AGENT, None))]
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            ways.append(
                _timed(
                    f"threads ({args.threads})",
                    lambda: _blocking_crawl(start, BROWSER_USER_AGENT, pool),
                )
            )
        ways.append(
            _timed(
                f"corocrawl ({args.concurrency} coroutines)",
                lambda: _corocrawl(start, args.concurrency, BROWSER_USER_AGENT),
            )
        )
    _print_table(ways, args.pages)
    print()
    print(WHEN_OTHERS_WIN if ways[-1].wall <= min(w.wall for w in ways) else WHEN_NOTHING_WAITS)
    if plt is not None:
        _plot(plt, ways, args.plot, f"{pages} pages, {low:g}-{high:g} s each")
        print(f"wrote {args.plot}")
    return 0 if all(w.movies == args.pages for w in ways) else 1


def _print_table(ways: list[Way], movies: int) -> None:
    base = ways[0].wall
    width = max(len(w.label) for w in ways)
    print()
    print(f"{'':{width}}  {'wall':>8}  {'speedup':>8}  posters")
    for w in ways:
        note = "" if w.movies == movies else f"  (missing {movies - w.movies})"
        print(
            f"{w.label:{width}}  {w.wall:7.2f}s  {base / w.wall:7.1f}×  {w.movies}/{movies}{note}"
        )


def _plot(plt: Any, ways: list[Way], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bars = ax.barh([w.label for w in ways][::-1], [w.wall for w in ways][::-1], color="#3a7bd5")
    ax.bar_label(bars, labels=[f"{w.wall:.1f} s" for w in ways][::-1], padding=3)
    ax.set_xlabel("wall time, seconds (shorter is better)")
    ax.set_title(f"corocrawl bench: {title}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
