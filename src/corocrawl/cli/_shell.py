"""``corocrawl shell URL``: fetch one page and try selectors on it, as ``scrapy shell``.

The page is fetched the way a crawl would fetch it (user agent, ``--header``,
``--proxy`` and the standard proxy variables, from flags, COROCRAWL_* or
corocrawl.toml), then ``resp`` is a :class:`corocrawl.Response`:

    corocrawl shell https://example.com/                       # interactive
    corocrawl shell https://example.com/ -c 'resp.css_first("h1").text()'
"""

from __future__ import annotations

import argparse
import asyncio
import code
import importlib
import pprint
import sys
from typing import Any

from .._exceptions import CorocrawlError, UsageError
from ._options import add_fetch_options, config_from_args

EXAMPLES = """examples:
  corocrawl shell https://movie.douban.com/cinema/later/beijing/
  corocrawl shell http://127.0.0.1:8080/ -c 'resp.css_first("h1").text()'
  corocrawl shell http://127.0.0.1:8080/ -c '[a.attrs["href"] for a in resp.css("a")]'
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "shell",
        help="fetch a page and try selectors on it in Python (resp.css ...)",
        description="Fetch URL with the crawl settings (user agent, headers, proxy) and open "
        "an interactive Python prompt (IPython if installed) with the page as 'resp'; "
        "or, with -c, print one expression and exit.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", help="the page to fetch")
    parser.add_argument("-c", "--command", dest="expression", metavar="EXPR",
                        help="print the value of this Python expression and exit")
    add_fetch_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import CrawlConfig, Request, Response
    from .._fetcher import Fetcher, FetchError
    from .._request import parse_url

    config = config_from_args(args, CrawlConfig())
    request = Request(str(parse_url(args.url)))

    async def fetch() -> Response:
        async with Fetcher(config) as fetcher:
            return await fetcher.fetch(request)

    try:
        resp = asyncio.run(fetch())
    except FetchError as exc:
        raise CorocrawlError(f"cannot fetch {request.url}: {exc.message}") from None
    if resp.status >= 400:
        print(f"corocrawl: note: {resp.url} answered HTTP {resp.status}", file=sys.stderr)
    namespace: dict[str, Any] = {"resp": resp, "request": request, "config": config}
    if args.expression is not None:
        return _evaluate(args.expression, namespace)
    _interact(namespace, resp)
    return 0


def _evaluate(expression: str, namespace: dict[str, Any]) -> int:
    """Print ``expression``'s value: a string as it is, anything else pretty-printed."""
    try:
        compiled = compile(expression, "<-c>", "eval")
    except SyntaxError as exc:
        raise UsageError(f"-c {expression!r} is not a Python expression: {exc.msg}") from None
    try:
        value = eval(compiled, namespace)  # the user's own expression, on their own page
    except Exception as exc:
        raise CorocrawlError(f"-c {expression!r} raised {type(exc).__name__}: {exc}") from None
    if isinstance(value, str):
        print(value)
    else:
        pprint.pprint(value, width=100, sort_dicts=False)
    return 0


def _banner(resp: Any) -> str:
    kind = resp.headers.get("Content-Type", "?")
    return (
        f"[corocrawl] {resp.url}: HTTP {resp.status}, {kind}, {len(resp.body):,} bytes\n"
        "  resp        the page: resp.css('a'), resp.css_first('h1').text(), "
        "resp.follow(href), resp.text\n"
        "  request     the request sent; config: the crawl settings used\n"
    )


def _interact(namespace: dict[str, Any], resp: Any) -> None:
    """IPython when installed (as scrapy shell), else the standard interactive console."""
    banner = _banner(resp)
    try:
        ipython = importlib.import_module("IPython")  # optional: not a dependency
    except ImportError:
        code.interact(banner=banner, local=namespace, exitmsg="")
        return
    print(banner)
    ipython.start_ipython(argv=[], user_ns=namespace)
