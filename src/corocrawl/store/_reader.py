"""Reading a crawl database without disturbing the crawl that may be writing it.

``corocrawl status`` and ``corocrawl export`` use this: a read-only connection
takes no lock a crawl would notice (WAL mode lets readers and the writer run
side by side), and a missing file is an error, never silently created.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from ._errors import BadDatabase, translate
from ._schema import FAILED, STATE_NAMES, check_readable, connect, read_counts


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failed requests sharing a reason (the ``kind`` of their last error)."""

    reason: str
    count: int
    example_url: str
    example_error: str


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """A stored crawl's progress, as ``corocrawl status`` prints it."""

    path: Path
    pending: int
    in_flight: int
    done: int
    failed: int
    items: int
    created: float | None
    last_activity: float | None
    failures: list[FailureGroup] = field(default_factory=list)


class StoreReader:
    """Read-only queries on a crawl database.

    >>> with StoreReader("corocrawl.db") as reader:
    ...     print(reader.status().done)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise BadDatabase(
                f"no crawl database at {self.path}; run a crawl first or pass --db PATH"
            )
        self._conn = connect(self.path, read_only=True)
        try:
            check_readable(self._conn, self.path)
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None

    def counts(self) -> dict[str, int]:
        """Requests per state: pending, in_flight, done, failed."""
        try:
            counts = read_counts(self._conn)
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None
        return dict(zip(STATE_NAMES, counts, strict=True))

    def failures(self, limit: int = 20) -> list[FailureGroup]:
        """Failed requests grouped by reason, most frequent first."""
        rows = self._query(
            f"SELECT error, data FROM requests INDEXED BY requests_failed WHERE state = {FAILED}")
        groups: dict[str, list[Any]] = {}
        for error, data in rows:
            error = error or "unknown: no error recorded"
            reason = error.split(":", 1)[0].strip() or "unknown"
            group = groups.get(reason)
            if group is None:
                groups[reason] = [1, _url_of(data), error]
            else:
                group[0] += 1
        ordered = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [FailureGroup(reason, n, url, error) for reason, (n, url, error) in ordered[:limit]]

    def _meta_time(self, name: str) -> float | None:
        rows = self._query("SELECT value FROM meta WHERE name = ?", (name,))
        try:
            return float(rows[0][0]) if rows else None
        except ValueError:
            return None

    def item_count(self) -> int:
        return int(self._query("SELECT count(*) FROM items")[0][0])

    def last_activity(self) -> float | None:
        """When the crawl last stored something (``time.time()`` seconds)."""
        return self._meta_time("last_activity")

    def status(self) -> StoreStatus:
        """Everything ``corocrawl status`` shows, read in one snapshot."""
        try:
            self._conn.execute("BEGIN")
            counts = self.counts()
            return StoreStatus(
                path=self.path, items=self.item_count(), created=self._meta_time("created"),
                last_activity=self.last_activity(), failures=self.failures(), **counts)
        finally:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def iter_items(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every stored item, in the order first stored, read in batches."""
        last_id = 0
        while True:
            rows = self._query(
                "SELECT id, data FROM items WHERE id > ? ORDER BY id LIMIT ?", (last_id, batch))
            if not rows:
                return
            for row_id, data in rows:
                yield orjson.loads(data)
                last_id = row_id


def _url_of(data: str) -> str:
    try:
        url = orjson.loads(data).get("url", "")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return str(url)
