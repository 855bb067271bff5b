"""The SQLite store of a generic crawl: page records, the link graph, redirect chains.

Tables (in the crawl's ``--db`` file, beside whatever else lives there)::

    crawl_pages(requested_url PK, url, status, content_type, title, depth,
                referrer, bytes, elapsed_ms, links_out, error)   -- the page records
    crawl_links(source, target)        -- in-scope links: page ``source`` links to ``target``
    crawl_redirects(requested_url, hop, url)  -- the chain a request was redirected through

``PageStore`` is an ``ItemSink``: the generic spider yields page records that
carry the link and redirect lists under private ``_links`` / ``_redirects``
keys; the store writes them to their tables and hands the record, without the
private keys, to the other sinks (JSONL, CSV). Writes run in one worker thread
so the event loop never waits on the disk. Re-writing a page (a repeat after a
crash) replaces its rows: the store stays free of duplicates.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from .._exceptions import StorageError
from ..sinks import Item, ItemSink, KeyedItem

#: The page record, field by field, in this order everywhere (SQLite, JSONL, CSV).
PAGE_FIELDS = (
    "url",
    "requested_url",
    "status",
    "content_type",
    "title",
    "depth",
    "referrer",
    "bytes",
    "elapsed_ms",
    "links_out",
    "error",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS crawl_pages (
    requested_url TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    status INTEGER,
    content_type TEXT,
    title TEXT,
    depth INTEGER NOT NULL,
    referrer TEXT,
    bytes INTEGER NOT NULL,
    elapsed_ms REAL,
    links_out INTEGER NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS crawl_links (
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (source, target)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS crawl_links_target ON crawl_links(target);
CREATE TABLE IF NOT EXISTS crawl_redirects (
    requested_url TEXT NOT NULL,
    hop INTEGER NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (requested_url, hop)
) WITHOUT ROWID;
"""


def public_record(item: Item) -> Item:
    """The record as users see it: exactly ``PAGE_FIELDS``, private keys dropped."""
    return {name: item.get(name) for name in PAGE_FIELDS}


class PageStore:
    """An ``ItemSink`` writing page records and their links to SQLite, then to ``others``."""

    def __init__(
        self, path: Path | None, others: Sequence[ItemSink] = (), *, fresh: bool = False
    ) -> None:
        self.path = path
        self.others = list(others)
        self.fresh = fresh
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        try:
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            if self.fresh:  # starting over: forget the pages and links of earlier runs
                with db:
                    for table in ("crawl_pages", "crawl_links", "crawl_redirects"):
                        db.execute(f"DELETE FROM {table}")
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"cannot use {self.path} as the crawl database ({exc}); "
                "give another path with --db"
            ) from None
        return db

    async def open(self) -> None:
        if self.path is not None:
            self._db = await asyncio.to_thread(self._connect)
        for sink in self.others:
            await sink.open()

    def _write_rows(self, items: Sequence[KeyedItem]) -> None:
        db = self._db
        assert db is not None
        pages: list[tuple[Any, ...]] = []
        links: list[tuple[str, str]] = []
        redirects: list[tuple[str, int, str]] = []
        requested: list[tuple[str]] = []
        for _, item in items:
            record = public_record(item)
            pages.append(tuple(record[name] for name in PAGE_FIELDS))
            requested.append((record["requested_url"],))
            source = record["url"]
            links.extend((source, target) for target in item.get("_links") or ())
            redirects.extend(
                (record["requested_url"], hop, url)
                for hop, url in enumerate(item.get("_redirects") or ())
            )
        placeholders = ", ".join("?" * len(PAGE_FIELDS))
        try:
            with db:
                db.executemany(
                    f"INSERT OR REPLACE INTO crawl_pages ({', '.join(PAGE_FIELDS)}) "
                    f"VALUES ({placeholders})",
                    pages,
                )
                db.executemany("DELETE FROM crawl_redirects WHERE requested_url = ?", requested)
                db.executemany("INSERT OR IGNORE INTO crawl_links VALUES (?, ?)", links)
                db.executemany("INSERT OR REPLACE INTO crawl_redirects VALUES (?, ?, ?)", redirects)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write to {self.path}: {exc}") from None

    async def write(self, items: Sequence[KeyedItem]) -> None:
        if self._db is not None:
            async with self._lock:
                await asyncio.to_thread(self._write_rows, items)
        if self.others:
            public = [(key, public_record(item)) for key, item in items]
            for sink in self.others:
                await sink.write(public)

    async def close(self) -> None:
        try:
            for sink in self.others:
                await sink.close()
        finally:
            if self._db is not None:
                db, self._db = self._db, None
                await asyncio.to_thread(db.close)


def read_pages(path: Path) -> list[dict[str, Any]]:
    """Every page record stored in ``path`` (for tests and exports)."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(f"SELECT {', '.join(PAGE_FIELDS)} FROM crawl_pages").fetchall()
    return [dict(zip(PAGE_FIELDS, row, strict=True)) for row in rows]
