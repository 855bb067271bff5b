"""The ``corocrawl`` command line.

Each subcommand lives in its own module ``cli/_<name>.py`` exposing
``register(subparsers)``, which adds its parser and sets ``run=func`` where
``func(args) -> int`` is the exit code. Errors the user can fix are
``CorocrawlError``s: printed as one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .._exceptions import CorocrawlError, UsageError
from ._settings import resolve_settings

# Modules in cli/ that define subcommands, in the order --help lists them.
_COMMANDS = (
    "_run",
    "_douban",
    "_serve_demo",
    "_demo",
    "_status",
    "_retry_failed",
    "_export",
    "_crawl",
    "_links",
    "_report",
    "_config_cmd",
    "_collect",
    "_bench",
)

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage + message and exits 2 already; keep it one line.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="corocrawl",
        description="A fast, crash-safe web crawler built on asyncio coroutines.",
        epilog="examples:\n"
        "  corocrawl demo                                   # offline, against the replica\n"
        "  corocrawl run spider.py -o items.jsonl           # your own spider, resumable\n"
        "  corocrawl douban --city beijing -o movies.jsonl --posters posters\n"
        "  corocrawl report --posters posters -o movies.html\n"
        "  corocrawl crawl https://example.com/ -o pages.jsonl\n"
        "  corocrawl status --db corocrawl.db\n"
        "  corocrawl serve-demo --port 8080 --movies 200\n"
        "  corocrawl config douban                          # effective settings\n"
        "  corocrawl bench --latency 0.5-2 --pages 40       # sequential vs threads vs coroutines",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        # Flags, then COROCRAWL_* variables, then corocrawl.toml, then defaults.
        args, _sources = resolve_settings(parser, argv, os.environ, Path.cwd())
    except UsageError as exc:
        print(f"corocrawl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(run(args))
    except UsageError as exc:
        print(f"corocrawl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CorocrawlError as exc:
        print(f"corocrawl: error: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    except KeyboardInterrupt:
        print("corocrawl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
