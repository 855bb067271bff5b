"""``corocrawl export``: write a stored crawl's items to JSONL, JSON or CSV."""

from __future__ import annotations

import argparse

from .._exceptions import UsageError
from ..sinks._files import check_export_path, export_items
from ..store import StoreReader
from ._store_args import add_db_option, existing_db


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "export",
        help="write the items of a stored crawl to .jsonl, .json or .csv",
        description="Write every item stored in --db to FILE; the extension picks the "
        "format (.jsonl, .ndjson, .json or .csv). Safe to run while the crawl is running: it "
        "exports what is stored so far.",
        epilog="examples:\n  corocrawl export -o movies.jsonl\n"
        "  corocrawl export --db crawl.db -o movies.csv --fields name,date,poster_url",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(parser)
    parser.add_argument("-o", "--output", action="append", required=True, metavar="FILE",
                        help="file to write (.jsonl, .json or .csv); repeatable")
    parser.add_argument("--fields", metavar="A,B,...",
                        help="only these fields, in this order (default: all, as stored)")
    parser.set_defaults(run=run)


def parse_fields(text: str | None) -> list[str] | None:
    if text is None:
        return None
    fields = [name.strip() for name in text.split(",") if name.strip()]
    if not fields:
        raise UsageError("--fields is empty; give field names like name,date,poster_url")
    return fields


def run(args: argparse.Namespace) -> int:
    fields = parse_fields(args.fields)
    outputs = [check_export_path(out) for out in args.output]
    path = existing_db(args.db)
    with StoreReader(path) as reader:
        for out in outputs:
            count = export_items(reader.iter_items(), out, fields)
            print(f"wrote {count:,} items to {out}")
    return 0
