"""``corocrawl report``: write the HTML poster gallery of a stored crawl."""

from __future__ import annotations

import argparse
import importlib
import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._exceptions import StorageError, UsageError
from .._posters import find_poster
from ..report import DEFAULT_TITLE, write_gallery

DEFAULT_DB = "corocrawl.db"
DEFAULT_OUTPUT = "movies.html"
#: Column names that hold the item as JSON, in the order we look for them.
_JSON_COLUMNS = ("item", "data", "json", "value", "body", "payload")


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="write an HTML poster gallery of the movies in a crawl database",
        description=(
            "Write one self-contained HTML page of the crawled movies: poster, name, "
            "release date, genre, region and 想看, grouped by week. Open it in any browser."
        ),
        epilog=(
            "examples:\n"
            "  corocrawl report\n"
            "  corocrawl report --db beijing.db --posters posters -o beijing.html"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", default=DEFAULT_DB, help=f"crawl database (default: {DEFAULT_DB})")
    parser.add_argument(
        "--posters",
        metavar="DIR",
        default=None,
        help="folder of downloaded posters (corocrawl douban --posters DIR); "
        "movies without a local poster get a placeholder",
    )
    parser.add_argument(
        "--remote-posters",
        action="store_true",
        help="show the poster URL of a movie without a local poster (the page then "
        "loads images from those servers when opened)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        help=f"HTML file to write (default: {DEFAULT_OUTPUT})",
    )
    parser.add_argument("--title", default=DEFAULT_TITLE, help="page title")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the items, write the gallery, print where it is."""
    items = list(read_items(Path(args.db)))
    posters = Path(args.posters) if args.posters else None
    if posters is not None and not posters.is_dir():
        raise UsageError(f"--posters {args.posters}: no such folder; download posters first")
    page = write_gallery(items, args.output, poster_dir=posters, title=args.title,
                         remote_posters=args.remote_posters)
    local = sum(1 for item in items if posters and find_poster(posters, item.get("subject_id")))
    print(f"wrote {page.resolve()} ({len(items)} movies, {local} local posters)")
    if not items:
        print(f"corocrawl: no items in {args.db}: run a crawl first", file=sys.stderr)
        return 1
    return 0


def read_items(db: Path) -> Iterator[dict[str, Any]]:
    """Every item stored in the crawl database ``db``.

    Uses the SQLite store's reader (``corocrawl.store.StoreReader``) when the
    store is installed; otherwise reads the ``items`` table directly.
    """
    try:
        store = importlib.import_module("corocrawl.store")
    except ImportError:
        yield from _read_items_table(db)
        return
    with store.StoreReader(db) as reader:
        yield from reader.iter_items()


def _read_items_table(db: Path) -> Iterator[dict[str, Any]]:
    """A minimal reader of an ``items`` table: its JSON column, or the row itself."""
    if not db.is_file():
        raise UsageError(f"no crawl database at {db}: run `corocrawl douban` first or pass --db")
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {db}: {exc}") from None
    try:
        try:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(items)")]
        except sqlite3.DatabaseError:
            raise UsageError(f"{db} is not a SQLite database; pass a crawl's --db") from None
        if not columns:
            raise UsageError(f"{db} has no items table; is it a corocrawl database?")
        json_column = next((c for c in _JSON_COLUMNS if c in columns), None)
        cursor = conn.execute("SELECT * FROM items")
        for row in cursor:
            record = dict(zip(columns, row, strict=True))
            if json_column is not None:
                value = record[json_column]
                item = json.loads(value) if isinstance(value, str | bytes) else None
                if isinstance(item, dict):
                    yield item
                    continue
            yield record
    finally:
        conn.close()
