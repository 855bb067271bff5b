"""The ``corocrawl`` command line.

Each subcommand lives in its own module ``cli/_<name>.py`` exposing
``register(subparsers)``, which adds its parser and sets ``run=func`` where
``func(args) -> int`` is the exit code. Errors the user can fix are
``CorocrawlError``s: printed as one line, never a traceback.

``corocrawl --help`` and ``--version`` must be quick (under 0.3 s), so this
module imports no command: with no command on the line the parser lists the
commands from ``COMMANDS`` alone, and a command loads only its own module.
Only when a corocrawl.toml or COROCRAWL_* variable is about do all commands
load, because a key there may belong to any command and is checked against
all of them. A test checks that ``COMMANDS`` says what each module registers.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from .._exceptions import CorocrawlError, UsageError
from ._settings import CONFIG_FILE, ENV_PREFIX, CommandParser, resolve_settings

#: Every subcommand: (name, module in cli/, one-line help), in the order --help lists them.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("run", "_run",
     "run the Crawler a Python file defines (persistence, resume, progress, exports)"),
    ("douban", "_douban", "crawl douban's upcoming movies (即将上映) with posters"),
    ("serve-demo", "_serve_demo", "serve the embedded douban replica site"),
    ("demo", "_demo", "crawl the embedded douban replica (offline) and show the movies"),
    ("status", "_status", "show a stored crawl's progress: pending, done, failed, items"),
    ("retry-failed", "_retry_failed", "queue the failed requests of a stored crawl again"),
    ("export", "_export", "write the items of a stored crawl to .jsonl, .json or .csv"),
    ("crawl", "_crawl", "crawl any site: follow links within scope, record every page"),
    ("links", "_links",
     "report broken links (4xx, 5xx, unreachable, long redirect chains) of a crawl"),
    ("report", "_report", "write an HTML poster gallery of the movies in a crawl database"),
    ("shell", "_shell", "fetch a page and try selectors on it in Python (resp.css ...)"),
    ("config", "_config_cmd", "show the effective settings and where each one comes from"),
    ("collect", "_collect", "copy a shared (Redis) crawl's items into SQLite/JSONL/JSON/CSV"),
    ("bench", "_bench",
     "crawl the replica sequentially, with threads and with corocrawl; compare"),
)
#: Top-level options that take a value (the token after them is not a command).
_VALUE_OPTIONS = frozenset({"--config"})
#: Commands that run the user's own code (a spider file, shell expressions): those
#: exit the ordinary way, every garbage collection included (see _spare_exit_collections).
_RUNS_USER_CODE = frozenset({"run", "config", "shell"})

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2
#: What a shell reports for a program stopped by SIGPIPE (128 + 13), e.g. ``… | head``.
EXIT_BROKEN_PIPE = 141


class _Parser(CommandParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage + message and exits 2 already; keep it one line.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(*, commands: bool | str = True, relaxed: bool = False) -> CommandParser:
    """The ``corocrawl`` parser with every command (``True``), or listing them without
    loading them (``False``), or with just the named one loaded.

    ``relaxed``: no argument is required (``corocrawl config`` parses a command
    line only to show its settings)."""
    parser = _Parser(
        relaxed=relaxed,
        prog="corocrawl",
        description="A fast, crash-safe web crawler built on asyncio coroutines.",
        epilog="examples:\n"
        "  corocrawl demo                                   # offline, against the replica\n"
        "  corocrawl run spider.py -o items.jsonl           # your own spider, resumable\n"
        "  corocrawl douban --city beijing -o movies.jsonl --posters posters\n"
        "  corocrawl report --posters posters -o movies.html\n"
        "  corocrawl crawl https://example.com/ -o pages.jsonl\n"
        "  corocrawl status --db corocrawl.db\n"
        "  corocrawl shell https://example.com/ -c 'resp.css_first(\"h1\").text()'\n"
        "  corocrawl serve-demo --port 8080 --movies 200\n"
        "  corocrawl config douban                          # effective settings\n"
        "  corocrawl bench --latency 0.5-2 --pages 40       # sequential vs threads vs coroutines",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"corocrawl {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name, module_name, help_text in COMMANDS:
        if commands is True or commands == name:
            importlib.import_module(f"{__name__}.{module_name}").register(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The first positional word of ``argv`` (a command, or a typo argparse must name)."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--":
            return token
        elif token.startswith("-"):
            skip = token in _VALUE_OPTIONS
        else:
            return token
    return None


def _settings_may_name_any_command(argv: Sequence[str]) -> bool:
    """Whether a config file or COROCRAWL_* variable may apply (its keys span commands)."""
    return (
        any(name.startswith(ENV_PREFIX) for name in os.environ)
        or any(token.startswith("--config") for token in argv)
        or (Path.cwd() / CONFIG_FILE).exists()
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    return _main(list(sys.argv[1:] if argv is None else argv), program=False)


def console_main() -> int:
    """The ``corocrawl`` program (the console script, ``python -m corocrawl``).

    ``main()`` on ``sys.argv``, with the garbage collector told that the
    process ends with the command (see ``_freeze_start_up``), except for the
    commands that run the user's own code.
    """
    return _main(sys.argv[1:], program=True)


def _main(arguments: list[str], *, program: bool) -> int:
    command = _command_word(arguments)
    if command is None:
        # --help, --version or nothing: argparse answers the first two and exits.
        parser = build_parser(commands=False)
        parser.parse_args(arguments)
        parser.print_help()
        return EXIT_USAGE
    known = any(name == command for name, _, _ in COMMANDS)
    everything = not known or _settings_may_name_any_command(arguments)
    parser = build_parser(commands=True if everything else command)
    try:
        # Flags, then COROCRAWL_* variables, then corocrawl.toml, then defaults.
        args = resolve_settings(parser, arguments, os.environ, Path.cwd())
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
    program = program and command not in _RUNS_USER_CODE
    if program:
        _freeze_start_up()
    try:
        return int(run(args))
    except BrokenPipeError:
        return _reader_went_away()
    except UsageError as exc:
        print(f"corocrawl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CorocrawlError as exc:
        print(f"corocrawl: error: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    except KeyboardInterrupt:
        print("corocrawl: interrupted", file=sys.stderr)
        return 130
    finally:
        if program:
            _spare_exit_collections()


def _freeze_start_up() -> None:
    """Keep what the start-up made (modules, classes, functions) out of every collection.

    ~40,000 objects that live as long as the process: full collections during
    the crawl and at its end skip them (``gc.freeze()``, Python's tool for
    long-lived objects). The little garbage the start-up left in cycles
    (argparse's) is never collected: the process ends soon.
    """
    gc.freeze()


def _spare_exit_collections() -> None:
    """Leave out the interpreter's garbage collections at exit: ~0.1 s after a crawl.

    At exit CPython sets every module aside and collects the garbage of them all:
    full collections over ~50,000 objects (aiohttp, asyncio, the engine). One
    collection here, over what the command made (the start-up is frozen),
    finalises everything unreachable (files flushed, sockets closed) just as the
    exit would; ``gc.freeze()`` then keeps the objects still reachable out of the
    exit's collections. Those are torn down by reference counting as before (a
    file still open is flushed and closed); only what they hold in reference
    cycles is left to the OS, which frees the memory anyway. Only corocrawl's
    own commands do this: they close and fsync their files themselves.
    """
    gc.collect()
    gc.freeze()


def _reader_went_away() -> int:
    """``corocrawl links --format json | head``: head has read enough and closed the pipe.

    That is not an error worth a traceback. Point stdout at /dev/null so the
    interpreter's final flush of the unwritten rest fails quietly too, as the
    Python docs advise (library/signal.html, "Note on SIGPIPE").
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(console_main())
