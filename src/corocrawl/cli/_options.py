"""Options shared by the crawling commands, and turning them into a CrawlConfig."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any, Protocol

from .._config import CrawlConfig, Timeouts
from .._exceptions import UsageError
from ._settings import Settings


class AddsArguments(Protocol):
    """A parser or an argument group: anything with ``add_argument``."""

    def add_argument(self, *names: Any, **kwargs: Any) -> Any: ...


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r} must be {least} or more")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def add_output_options(parser: argparse.ArgumentParser, *, db_help: str) -> None:
    """``-o FILE`` (repeatable export) and ``--db PATH``, as every crawling command has them."""
    parser.add_argument("-o", "--output", action="append", default=[], metavar="FILE",
                        help="export items to FILE (.jsonl, .json or .csv); repeatable")
    parser.add_argument("--db", default="corocrawl.db", metavar="PATH", help=db_help)


def header(text: str) -> tuple[str, str]:
    """``'Accept-Language: zh-CN'`` → ``("Accept-Language", "zh-CN")``."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not name or any(c.isspace() for c in name):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a header; write it as 'Name: value'"
        )
    return name, value.strip()


def proxy_url(text: str) -> str:
    if not text.startswith(("http://", "https://")) or text.endswith("://"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a proxy URL; write it like http://127.0.0.1:3128"
        )
    return text


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be zero or more seconds")
    return value


#: The crawl options and the CrawlConfig field each one sets (``timeout``: the
#: total of ``timeouts``; ``headers`` are added to the base's).
_CRAWL_FIELDS = ("concurrency", "processes", "per_host", "delay", "user_agent", "retries",
                 "max_pages", "max_time", "proxy")


def add_crawl_options(parser: argparse.ArgumentParser, base: CrawlConfig | None = None) -> None:
    """Concurrency, politeness, retries and limits: the engine's knobs.

    ``base`` is the config the command applies them to: the options' defaults,
    which --help and ``corocrawl config`` show.
    """
    base = base if base is not None else CrawlConfig()
    group = parser.add_argument_group("crawl")
    group.add_argument("--concurrency", type=positive_int, metavar="N", default=base.concurrency,
                       help=f"requests in flight at once, all hosts (default {base.concurrency})")
    group.add_argument("--per-host", type=positive_int, metavar="N", default=base.per_host,
                       help=f"requests in flight at once to one host (default {base.per_host})")
    group.add_argument("--delay", type=seconds, metavar="SECONDS", default=base.delay,
                       help="minimum time between requests to one host, with jitter "
                       f"(default {base.delay:g})")
    group.add_argument("--processes", type=positive_int, metavar="N", default=base.processes,
                       help="processes that each fetch and parse pages, sharing one queue "
                       f"and the concurrency (default {base.processes})")
    _add_request_options(group, base)
    group.add_argument("--retries", type=non_negative_int, metavar="N", default=base.retries,
                       help="retries on timeouts, connection errors, 5xx and 429 "
                       f"(default {base.retries})")
    _add_timeout(group, base, "total time limit of one request")
    group.add_argument("--max-pages", type=positive_int, metavar="N", default=base.max_pages,
                       help="stop after fetching N pages")
    group.add_argument("--max-time", type=seconds, metavar="SECONDS", default=base.max_time,
                       help="stop gracefully after this long")
    group.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    group.add_argument("--log-json", metavar="FILE",
                       help="write JSON-lines events (start, page, error, retry, finish) to FILE")


def _add_timeout(group: AddsArguments, base: CrawlConfig, what: str) -> None:
    group.add_argument("--timeout", type=seconds, metavar="SECONDS", default=base.timeouts.total,
                       help=f"{what} (default {base.timeouts.total:g})")


def _add_request_options(group: AddsArguments, base: CrawlConfig) -> None:
    """How each request is sent: identity, extra headers, proxy."""
    group.add_argument("--user-agent", metavar="UA", default=base.user_agent,
                       help="the User-Agent header to send")
    group.add_argument("--header", dest="headers", action="append", type=header, default=[],
                       metavar="'NAME: VALUE'",
                       help="send this header with every request; repeatable "
                       "(in corocrawl.toml: headers = ['NAME: VALUE', ...])")
    group.add_argument("--proxy", type=proxy_url, metavar="URL", default=base.proxy,
                       help="send every request through this HTTP proxy (default: "
                       "HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the environment)")


def add_fetch_options(parser: argparse.ArgumentParser) -> None:
    """The options of a command that fetches single pages the way a crawl would."""
    base = CrawlConfig()
    group = parser.add_argument_group("request")
    _add_request_options(group, base)
    _add_timeout(group, base, "total time limit of the request")


def crawl_config(settings: Settings, base: CrawlConfig) -> CrawlConfig:
    """``base`` with every crawl option the user set (flag, env, file) applied on top."""
    changes: dict[str, Any] = {
        name: getattr(settings, name)
        for name in _CRAWL_FIELDS
        if settings.given(name) and name in settings.values
    }
    if settings.given("headers") and settings.headers:
        changes["headers"] = (*base.headers, *settings.headers)
    if settings.given("timeout"):
        total = settings.timeout
        changes["timeouts"] = Timeouts(connect=min(10.0, total), read=total, total=total)
    return dataclasses.replace(base, **changes)


def spider_values(config: CrawlConfig) -> dict[str, Any]:
    """A spider's own CrawlConfig as crawl option values (the ``spider FILE`` layer)."""
    values: dict[str, Any] = {name: getattr(config, name) for name in _CRAWL_FIELDS}
    values["timeout"] = config.timeouts.total
    return values


def check_db_path(text: str) -> Path:
    """Fail before crawling when the database cannot be created where asked."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise UsageError(f"--db {text}: is a directory; give a file path like crawl.db")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--db {text}: folder {parent} does not exist; create it or pick another")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--db {text}: not writable; pick a path you can write to")
    return path


def check_log_json(path: str | None) -> None:
    """Fail before crawling when the ``--log-json`` file cannot be written."""
    if path is None:
        return
    target = Path(path).expanduser()
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"--log-json {path}: is a directory; give a file path")
    if not parent.is_dir():
        raise UsageError(f"--log-json {path}: folder {parent} does not exist; "
                         "create it or pick another path")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"--log-json {path}: not writable; pick a writable path")
