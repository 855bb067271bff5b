"""``corocrawl config``: the effective settings of a command and where each came from."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._exceptions import UsageError
from ._options import crawl_default
from ._settings import CONFIG_FILE, resolve_settings, settings_options

DEFAULT_COMMAND = "douban"


def register(subparsers: Any) -> None:
    """Add the ``config`` subcommand."""
    parser = subparsers.add_parser(
        "config",
        help="show the effective settings and where each one comes from",
        description=(
            "Show the settings COMMAND would run with: defaults, then "
            f"{CONFIG_FILE} (or --config), then COROCRAWL_* variables, then flags."
        ),
        epilog=(
            "examples:\n"
            "  corocrawl config\n"
            "  corocrawl config report\n"
            "  corocrawl config run spider.py --max-pages 100\n"
            "  COROCRAWL_CONCURRENCY=8 corocrawl config douban --config ci.toml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        default=DEFAULT_COMMAND,
        help=f"the command whose settings to show (default: {DEFAULT_COMMAND})",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"read options from this TOML file (default: ./{CONFIG_FILE} if present)",
    )
    parser.add_argument(
        "arguments",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="COMMAND's own arguments and flags, e.g. the spider file of run",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the effective settings as a table (option, value, source)."""
    from . import build_parser  # the full parser, built fresh: resolution mutates it

    parser = build_parser()
    commands = _subcommands(parser)
    if args.command not in commands or args.command == "config":
        choices = ", ".join(sorted(c for c in commands if c != "config"))
        raise UsageError(f"no command {args.command!r} to show settings for; pick one of {choices}")
    _relax_required(commands[args.command])
    argv = [args.command, *args.arguments]
    config = getattr(args, "config", None)
    if config:
        argv += ["--config", config]
    namespace, sources = resolve_settings(parser, argv, os.environ, Path.cwd())
    if args.command == "run" and getattr(namespace, "spider", None):
        _fill_from_spider(namespace, sources, namespace.spider)

    console = Console(file=sys.stdout, soft_wrap=True)
    used = namespace.config or f"none (no ./{CONFIG_FILE})"
    console.print(Text.assemble("settings of ", (f"corocrawl {args.command}", "bold"),
                                f"; config file: {used}"))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("option")
    table.add_column("value", overflow="fold")
    table.add_column("source")
    for dest, flag in settings_options(parser, args.command):
        source = sources.get(dest, "default")
        style = "dim" if source == "default" else ""
        value = getattr(namespace, dest, None)
        if value is None and source == "default":
            # Crawl flags default to "not given"; show what the crawl then uses.
            value = crawl_default(commands[args.command], dest)
        # Text, not markup: "[douban]" and values from files are shown as written.
        cells = (flag, repr(value), source)
        table.add_row(*(Text(cell) for cell in cells), style=style)
    console.print(table)
    return 0


def _fill_from_spider(namespace: argparse.Namespace, sources: dict[str, str], path: str) -> None:
    """What the spider file sets, where no flag, variable or file entry overrides it."""
    from .._config import CrawlConfig
    from ._spider_file import SpiderImportError, load_spider

    try:
        config = load_spider(path).config
    except SpiderImportError as exc:
        sys.stderr.write(exc.report)  # the user's own traceback, as `run` shows it
        raise
    defaults = CrawlConfig()
    for dest, source in sources.items():
        if source != "default" or not hasattr(config, dest):
            continue
        value = getattr(config, dest)
        setattr(namespace, dest, value)
        if value != getattr(defaults, dest):
            sources[dest] = f"spider {path}"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _relax_required(parser: argparse.ArgumentParser) -> None:
    """Let COMMAND parse without its required arguments (e.g. crawl's URL): we only
    show settings. The parser was built for this call alone, so changing it is safe."""
    for action in parser._actions:
        if action.option_strings:
            action.required = False
        elif action.nargs is None:
            action.nargs = "?"
        elif action.nargs == "+":
            action.nargs = "*"
