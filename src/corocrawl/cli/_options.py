"""Options shared by the crawling commands, and turning them into a CrawlConfig."""

from __future__ import annotations

import argparse
import os
import weakref
from pathlib import Path

from .._config import CrawlConfig, Timeouts
from .._exceptions import UsageError


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


#: The CrawlConfig each command starts from, by parser: the one source of the
#: defaults that --help and ``corocrawl config`` show. The flags themselves
#: default to None, meaning "not given": a command may then pick its own value
#: (douban's politeness towards its own hosts).
_BASES: weakref.WeakKeyDictionary[argparse.ArgumentParser, CrawlConfig] = (
    weakref.WeakKeyDictionary()
)


def crawl_default(parser: argparse.ArgumentParser, dest: str) -> object | None:
    """What the crawl option ``dest`` of ``parser`` is when not given (None: not one)."""
    base = _BASES.get(parser)
    if base is None:
        return None
    if dest == "timeout":
        return base.timeouts.total
    if dest == "headers":
        return [f"{name}: {value}" for name, value in base.headers]
    if dest in CrawlConfig.__dataclass_fields__:
        value: object = getattr(base, dest)
        return value
    return None


def add_crawl_options(parser: argparse.ArgumentParser, base: CrawlConfig | None = None) -> None:
    """Concurrency, politeness, retries and limits: the engine's knobs.

    ``base`` is the config the command applies them to; --help shows its values.
    """
    base = base if base is not None else CrawlConfig()
    _BASES[parser] = base
    group = parser.add_argument_group("crawl")
    group.add_argument("--concurrency", type=positive_int, metavar="N",
                       help=f"requests in flight at once, all hosts (default {base.concurrency})")
    group.add_argument("--per-host", type=positive_int, metavar="N",
                       help=f"requests in flight at once to one host (default {base.per_host})")
    group.add_argument("--delay", type=seconds, metavar="SECONDS",
                       help="minimum time between requests to one host, with jitter "
                       f"(default {base.delay:g})")
    group.add_argument("--processes", type=positive_int, metavar="N",
                       help=f"processes that parse pages (default {base.processes}: parse in "
                       "the event loop)")
    _add_request_options(group)
    group.add_argument("--retries", type=int, metavar="N",
                       help="retries on timeouts, connection errors, 5xx and 429 "
                       f"(default {base.retries})")
    group.add_argument("--timeout", type=seconds, metavar="SECONDS",
                       help=f"total time limit of one request (default {base.timeouts.total:g})")
    group.add_argument("--max-pages", type=positive_int, metavar="N",
                       help="stop after fetching N pages")
    group.add_argument("--max-time", type=seconds, metavar="SECONDS",
                       help="stop gracefully after this long")
    group.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    group.add_argument("--log-json", metavar="FILE",
                       help="write JSON-lines events (start, page, error, retry, finish) to FILE")


def _add_request_options(group: argparse._ArgumentGroup) -> None:
    """How each request is sent: identity, extra headers, proxy."""
    group.add_argument("--user-agent", metavar="UA", help="the User-Agent header to send")
    group.add_argument("--header", dest="headers", action="append", type=header,
                       metavar="'NAME: VALUE'",
                       help="send this header with every request; repeatable "
                       "(in corocrawl.toml: headers = ['NAME: VALUE', ...])")
    group.add_argument("--proxy", type=proxy_url, metavar="URL",
                       help="send every request through this HTTP proxy (default: "
                       "HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the environment)")


def add_fetch_options(parser: argparse.ArgumentParser) -> None:
    """The options of a command that fetches single pages the way a crawl would."""
    base = CrawlConfig()
    _BASES[parser] = base
    group = parser.add_argument_group("request")
    _add_request_options(group)
    group.add_argument("--timeout", type=seconds, metavar="SECONDS",
                       help=f"total time limit of the request (default {base.timeouts.total:g})")


def config_from_args(args: argparse.Namespace, base: CrawlConfig) -> CrawlConfig:
    """``base`` with every crawl option the user gave applied on top."""
    changes: dict[str, object] = {}
    names = ("concurrency", "processes", "per_host", "delay", "user_agent", "retries",
             "max_pages", "max_time", "proxy")
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "headers", None):
        changes["headers"] = (*base.headers, *args.headers)
    if getattr(args, "timeout", None) is not None:
        total = args.timeout
        changes["timeouts"] = Timeouts(connect=min(10.0, total), read=total, total=total)
    retries = getattr(args, "retries", None)
    if retries is not None and retries < 0:
        raise UsageError(f"--retries must be 0 or more, got {retries}")
    import dataclasses

    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


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
