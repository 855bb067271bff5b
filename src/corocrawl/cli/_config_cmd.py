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
from ._settings import CONFIG_FILE, Settings, resolve_settings, with_spider

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
        help=f"read options from this TOML file (default: ./{CONFIG_FILE} if present)",
    )
    parser.add_argument(
        "arguments",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="COMMAND's own arguments and flags, e.g. the spider file of run",
    )
    parser.set_defaults(run=run)


def run(args: Settings) -> int:
    """Print the effective settings as a table (option, value, source)."""
    from . import build_parser  # relaxed: COMMAND's required arguments are optional here

    parser = build_parser(relaxed=True)
    if args.command not in parser.commands or args.command == "config":
        choices = ", ".join(sorted(c for c in parser.commands if c != "config"))
        raise UsageError(f"no command {args.command!r} to show settings for; pick one of {choices}")
    argv = [args.command, *args.arguments]
    if args.sources.get("config") == "flag --config":  # else COMMAND finds it as it would
        argv += ["--config", args.config]
    # The environment was checked (and warned about) when `config` itself resolved.
    settings = resolve_settings(parser, argv, os.environ, Path.cwd(), warn_env=False)
    if args.command == "run" and settings.spider:
        settings = _with_spider_file(settings, settings.spider)

    console = Console(file=sys.stdout, soft_wrap=True)
    used = settings.config or f"none (no ./{CONFIG_FILE})"
    console.print(Text.assemble("settings of ", (f"corocrawl {args.command}", "bold"),
                                f"; config file: {used}"))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("option")
    table.add_column("value", overflow="fold")
    table.add_column("source")
    for setting in settings.declared:
        source = settings.sources.get(setting.name, "default")
        style = "dim" if source == "default" else ""
        # Text, not markup: "[douban]" and values from files are shown as written.
        cells = (setting.flag, repr(settings.values.get(setting.name)), source)
        table.add_row(*(Text(cell) for cell in cells), style=style)
    console.print(table)
    return 0


def _with_spider_file(settings: Settings, path: str) -> Settings:
    """What the spider file sets, where no flag, variable or file entry overrides it."""
    from ._options import spider_values
    from ._spider_file import SpiderImportError, load_spider

    try:
        config = load_spider(path).config
    except SpiderImportError as exc:
        sys.stderr.write(exc.report)  # the user's own traceback, as `run` shows it
        raise
    return with_spider(settings, path, spider_values(config))
