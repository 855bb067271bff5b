"""The ``--db`` option of the commands that read or change a stored crawl."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..store import DEFAULT_DB, BadDatabase


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, metavar="PATH",
                        help=f"the crawl's SQLite file (default {DEFAULT_DB})")


def existing_db(text: str) -> Path:
    """The ``--db`` path, which must already hold a crawl (these commands never create one)."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise BadDatabase(f"no crawl database at {path}; run a crawl first or pass --db PATH")
    return path
