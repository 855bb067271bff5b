"""The tables of a crawl database, and opening one safely.

``requests`` is the frontier and the dedup set at once: a row per request,
keyed by its 16-byte fingerprint (a UNIQUE index, so dedup is a B-tree lookup
on disk, not a Python set). ``state`` is 0 pending, 1 in flight, 2 done,
3 failed. ``counts`` keeps the number of rows in each state, updated in the
same transactions, so opening a database of millions of rows costs nothing.
``items`` holds the scraped items, upserted by key.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from ._errors import BadDatabase, not_a_database, translate

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
PENDING, IN_FLIGHT, DONE, FAILED = 0, 1, 2, 3
STATE_NAMES = ("pending", "in_flight", "done", "failed")

#: SQLite waits this long for a lock another connection holds (a status reader, say).
BUSY_TIMEOUT_MS = 10_000

_TABLES = ("meta", "counts", "requests", "items")

_DDL = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE counts (state INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,          -- arrival order: FIFO within a priority
    fp BLOB UNIQUE,                  -- 16-byte fingerprint, NULL for dont_filter requests
    state INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    not_before REAL NOT NULL,        -- time.time() before which it is not leased
    attempt INTEGER NOT NULL,
    data TEXT NOT NULL,              -- Request.to_dict() as JSON
    error TEXT,                      -- the last error, "kind: message"
    updated REAL NOT NULL
);
CREATE INDEX requests_ready ON requests (priority DESC, id) WHERE state = 0;
CREATE INDEX requests_in_flight ON requests (id) WHERE state = 1;
CREATE INDEX requests_failed ON requests (id) WHERE state = 3;
CREATE TABLE items (
    id INTEGER PRIMARY KEY,          -- first-stored order, kept across merges
    key TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL,              -- the merged item as JSON
    updated REAL NOT NULL
);
"""


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection with the pragmas every corocrawl connection uses.

    Autocommit mode (``isolation_level=None``): transactions are explicit.
    """
    if read_only:
        return _connect_read_only(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Connection settings only: nothing here writes the file, which may
        # yet turn out to be someone else's (``prepare`` checks first).
        # synchronous=NORMAL in WAL mode survives any process crash; only a
        # power cut can lose the last commits, and the file stays consistent.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -32768")  # 32 MiB of page cache
        conn.execute("PRAGMA temp_store = MEMORY")
        # Checkpoint every ~40 MiB of WAL instead of 4: a page the crawl
        # touches again and again (an index page) is copied back once, not
        # ten times; +12% frontier ops per CPU-second at 1M rows.
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, path) from None
    return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection, also to a database in a read-only directory.

    ``mode=ro`` still needs to create the WAL index (``-shm``) beside a WAL
    database, which a read-only directory (a CD, a read-only mount, another
    user's folder) forbids. Then the file is opened ``immutable``: no sidecar
    files, no locks. Nobody can be writing it there, except through a WAL file
    left by a crashed crawl, whose last commits are then not seen (we say so).
    """
    uri = path.resolve().as_uri()
    try:
        return _open_uri(f"{uri}?mode=ro")
    except sqlite3.Error as exc:
        if os.access(path.parent, os.W_OK):  # not our case: maybe busy or broken
            raise translate(exc, path) from None
        first = exc
    wal = path.with_name(path.name + "-wal")
    try:
        conn = _open_uri(f"{uri}?mode=ro&immutable=1")
    except sqlite3.Error:
        raise translate(first, path) from None
    if wal.exists() and wal.stat().st_size > 0:
        log.warning("%s: cannot read %s in a read-only directory; its last commits are "
                    "not shown", path, wal.name)
    return conn


def _open_uri(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def prepare(conn: sqlite3.Connection, path: Path, *, fresh: bool, item_key: str | None,
            ) -> int:
    """Create or check the schema; wipe it if ``fresh``. Return rows recovered from a crash.

    Rows a dead process left in flight go back to pending with their attempt
    count. Runs in one transaction: a failure leaves the file as it was.
    """
    _check_ours(conn, path, fresh=fresh)  # before anything writes to the file
    # WAL: readers (corocrawl status) never block the crawl, and it never blocks them.
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.warning("%s: could not switch to WAL mode (got %s)", path, mode)
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = _check_ours(conn, path, fresh=fresh)
        if fresh and tables:
            _wipe(conn, path, version)
            tables = set()
        if not tables:
            _create(conn, item_key)
        recovered = _recover(conn)
        if item_key is not None:
            _check_item_key(conn, path, item_key)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return recovered


def _check_ours(conn: sqlite3.Connection, path: Path, *, fresh: bool) -> int | None:
    """The schema version of an empty or corocrawl database; BadDatabase for any other."""
    tables = {row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = _version(conn, path, tables)
    if tables and version is None:
        raise BadDatabase(
            f"{path} is an SQLite file but not a corocrawl database; "
            "pass another --db path or move that file away"
        )
    if version is not None and version != SCHEMA_VERSION and not fresh:
        raise BadDatabase(
            f"{path} holds a crawl in storage format {version}, but this corocrawl reads "
            f"format {SCHEMA_VERSION}; use --fresh to start over or pass another --db path"
        )
    return version


def _version(conn: sqlite3.Connection, path: Path, tables: set[str]) -> int | None:
    if "meta" not in tables:
        return None
    row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    if row is None or not str(row[0]).isdigit():
        raise not_a_database(path)
    return int(row[0])


def _wipe(conn: sqlite3.Connection, path: Path, version: int | None) -> None:
    if version == SCHEMA_VERSION:
        counts = dict(conn.execute("SELECT state, n FROM counts").fetchall())
        items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        log.warning("starting over: removed %d requests and %d items from %s",
                    sum(counts.values()), items, path)
    else:
        log.warning("starting over: removed a crawl in storage format %s from %s",
                    version, path)
    for table in _TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _create(conn: sqlite3.Connection, item_key: str | None) -> None:
    for statement in _DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    now = repr(time.time())
    conn.executemany("INSERT INTO meta (name, value) VALUES (?, ?)", [
        ("schema_version", str(SCHEMA_VERSION)),
        ("created", now),
        ("last_activity", now),
        ("item_key", item_key or ""),
    ])
    conn.executemany("INSERT INTO counts (state, n) VALUES (?, 0)",
                     [(state,) for state in range(len(STATE_NAMES))])


def _recover(conn: sqlite3.Connection) -> int:
    cursor = conn.execute("UPDATE requests SET state = ? WHERE state = ?", (PENDING, IN_FLIGHT))
    recovered = cursor.rowcount
    if recovered > 0:
        conn.execute("UPDATE counts SET n = n + ? WHERE state = ?", (recovered, PENDING))
        conn.execute("UPDATE counts SET n = n - ? WHERE state = ?", (recovered, IN_FLIGHT))
    return max(recovered, 0)


def _check_item_key(conn: sqlite3.Connection, path: Path, item_key: str) -> None:
    row = conn.execute("SELECT value FROM meta WHERE name = 'item_key'").fetchone()
    stored = row[0] if row else ""
    if stored and stored != item_key:
        log.warning("%s was crawled with item key %r, now %r: items may be stored twice; "
                    "use --fresh to start over", path, stored, item_key)
    if stored != item_key:
        conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('item_key', ?)",
                     (item_key,))


def read_counts(conn: sqlite3.Connection) -> list[int]:
    """Rows per state, from the ``counts`` table (pending, in flight, done, failed)."""
    counts = [0] * len(STATE_NAMES)
    for state, n in conn.execute("SELECT state, n FROM counts"):
        counts[int(state)] = int(n)
    return counts


def check_readable(conn: sqlite3.Connection, path: Path) -> None:
    """Raise BadDatabase unless ``conn`` is a corocrawl database this version reads."""
    try:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = _version(conn, path, tables)
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    if version is None:
        raise BadDatabase(f"{path} is not a corocrawl database; pass another --db path")
    if version != SCHEMA_VERSION:
        raise BadDatabase(
            f"{path} holds a crawl in storage format {version}, but this corocrawl reads "
            f"format {SCHEMA_VERSION}; use a matching corocrawl version or pass another --db"
        )
