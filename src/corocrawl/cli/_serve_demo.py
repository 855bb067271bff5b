"""``corocrawl serve-demo``: the embedded douban replica, for any crawler to use."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import math
import signal
import sys
from typing import TYPE_CHECKING, Any

from .._exceptions import UsageError
from .._running import loop_factory
from ._settings import Settings

if TYPE_CHECKING:  # the demo (and aiohttp) load only when the command runs
    from ..demo import DemoConfig

EXAMPLES = """examples:
  corocrawl serve-demo --port 8080 --movies 200
  corocrawl serve-demo --movies 3000 --cities beijing,shanghai --latency 0.05-0.2 --error-rate 0.1
  corocrawl douban --start-url http://127.0.0.1:8080/cinema/later/beijing/
"""


def register(subparsers: Any) -> None:
    """Add the ``serve-demo`` subcommand."""
    parser = subparsers.add_parser(
        "serve-demo",
        help="serve the embedded douban replica site",
        description="Serve douban-structured pages for synthetic movies at the real site's "
        "paths (/cinema/later/<city>/, /subject/<id>/) until Ctrl-C or SIGTERM.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on; 0 picks a free one"
    )
    parser.add_argument("--movies", type=int, default=40, help="how many movies in all")
    parser.add_argument(
        "--cities", default="beijing", help="comma-separated city slugs to spread the movies over"
    )
    parser.add_argument(
        "--latency", default="0", metavar="MIN-MAX", help="delay per request, seconds: 0.05-0.2"
    )
    parser.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of detail-page requests failing transiently (500, 503, reset)",
    )
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of detail pages that always answer 500",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic movies")
    parser.add_argument(
        "--gbk-cities", default="", help="cities whose list page is GBK under a utf-8 <meta>"
    )
    parser.add_argument(
        "--no-block-bots",
        action="store_true",
        help="serve every User-Agent (by default non-browsers get 418, like douban)",
    )
    parser.add_argument(
        "--gzip", action="store_true", help="compress pages for clients that accept gzip"
    )
    parser.set_defaults(run=run)


def parse_latency(text: str) -> tuple[float, float]:
    """``"0.05-0.2"`` -> ``(0.05, 0.2)``; ``"0.1"`` -> ``(0.1, 0.1)``.

    >>> parse_latency("0-0.5")
    (0.0, 0.5)
    """
    low_text, sep, high_text = text.strip().partition("-")
    try:
        low = float(low_text)
        high = float(high_text) if sep else low
    except ValueError:
        raise UsageError(
            f"--latency must be MIN-MAX seconds like 0.05-0.2, got {text!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
        raise UsageError(f"--latency needs 0 <= MIN <= MAX seconds, got {text!r}")
    return low, high


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def config_from_args(args: Settings) -> DemoConfig:
    """The ``DemoConfig`` the flags describe; a ``UsageError`` names the bad flag."""
    from ..demo import DemoConfig

    for flag, value in (("--error-rate", args.error_rate), ("--fail-rate", args.fail_rate)):
        if not 0.0 <= value <= 1.0:  # also rejects nan
            raise UsageError(f"{flag} must be a fraction between 0 and 1, got {value}")
    if args.movies < 0:
        raise UsageError(f"--movies must be zero or more, got {args.movies}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0-65535 (0 picks a free port), got {args.port}")
    cities = _split(args.cities)
    if not cities:
        raise UsageError("--cities needs at least one city slug, e.g. --cities beijing")
    return DemoConfig(
        movies=args.movies,
        cities=cities,
        latency=parse_latency(args.latency),
        error_rate=args.error_rate,
        fail_rate=args.fail_rate,
        seed=args.seed,
        gbk_cities=_split(args.gbk_cities),
        block_bots=not args.no_block_bots,
        gzip=args.gzip,
    )


def run(args: Settings) -> int:
    """Serve until SIGINT or SIGTERM; exit code 0."""
    config = config_from_args(args)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(_serve(config, args.host, args.port))


async def _serve(config: DemoConfig, host: str, port: int) -> int:
    from ..demo import DemoServer

    server = DemoServer(config, host=host, port=port)
    try:
        await server.start()
    except OSError as exc:
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or exc
        raise UsageError(
            f"cannot listen on {host}:{port}: {reason}; pick another --port (0 picks a free one)"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if host not in ("0.0.0.0", "::", ""):
            # Render every page up front so the first crawl is as fast as the next.
            server.warm()
        print(f"serving {config.movies} movies on {' '.join(server.list_urls())}", flush=True)
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
        await server.close()
    print(f"serve-demo: stopped after {server.stats.total} requests", file=sys.stderr, flush=True)
    return 0

