"""Reading a shared crawl back: ``status`` figures and ``collect`` of items."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._exceptions import StorageError
from ..sinks._base import Item, ItemSink, KeyedItem
from ..sinks._files import export_format, export_items
from ._link import DEFAULT_CRAWL_NAME, CrawlKeys, RedisLink, unpack
from ._sink import iter_items

#: A worker whose heartbeat is older than this many lease periods is shown as gone.
_STALE_FACTOR = 3


async def redis_status_async(url: str, crawl_name: str = DEFAULT_CRAWL_NAME) -> dict[str, Any]:
    """The shared crawl's state as a dict (see :func:`redis_status`)."""
    link = RedisLink.connect(url)
    keys = CrawlKeys(crawl_name)
    try:
        return await _status(link, keys)
    finally:
        await link.close()


def redis_status(url: str, crawl_name: str = DEFAULT_CRAWL_NAME) -> dict[str, Any]:
    """pending, leased, done, failed, workers' heartbeats and pages/s of a shared crawl.

    >>> redis_status("redis://127.0.0.1:6379/0", "douban")["pending"]
    1234
    """
    return asyncio.run(redis_status_async(url, crawl_name))


async def _status(link: RedisLink, keys: CrawlKeys) -> dict[str, Any]:
    client = link.client

    async def read() -> list[Any]:
        async with client.pipeline(transaction=False) as pipe:
            pipe.zcard(keys.pending).zcard(keys.delayed).zcard(keys.leased)
            pipe.hgetall(keys.stats).hgetall(keys.meta).hgetall(keys.workers).time()
            pipe.hlen(keys.dead).lrange(keys.failures, 0, 9)
            return list(await pipe.execute())

    pending, delayed, leased, stats, meta, workers, now, dead, failures = await link.call(
        "status", read
    )
    server_now = float(now[0]) + float(now[1]) / 1e6
    counters = {k.decode(): int(v) for k, v in stats.items()}
    rows = []
    for worker_id, raw in workers.items():
        stamp, _, packed = raw.partition(b"|")
        try:
            beat = unpack(packed)
        except ValueError:
            beat = {}
        age = max(0.0, server_now - float(stamp))
        lease_seconds = float(beat.get("lease", 30.0))
        rows.append(
            {
                "worker": worker_id.decode(),
                "last_heartbeat_s": round(age, 1),
                "alive": age < _STALE_FACTOR * max(lease_seconds / 3, 1.0),
                "pid": beat.get("pid"),
                "host": beat.get("host"),
                "leased": beat.get("held", 0),
                "settled": beat.get("settled", 0),
                "pages_per_s": round(float(beat.get("rate", 0.0)), 2),
            }
        )
    rows.sort(key=lambda row: row["worker"])
    return {
        "crawl": keys.name,
        "exists": bool(meta),
        "pending": pending,
        "delayed": delayed,
        "leased": leased,
        "done": counters.get("done", 0),
        "failed": counters.get("failed", 0),
        "retried": counters.get("retried", 0),
        "reclaimed": counters.get("reclaimed", 0),
        "dead_letters": dead,
        "items": counters.get("items", 0),
        "queued_total": counters.get("added", 0),
        "finished": bool(meta) and pending + delayed + leased == 0,
        "pages_per_s": round(sum(r["pages_per_s"] for r in rows if r["alive"]), 2),
        "workers": rows,
        "recent_failures": [f.decode(errors="replace") for f in failures],
    }


async def list_crawls(url: str) -> list[str]:
    """Names of the crawls stored on the Redis server at ``url``."""
    link = RedisLink.connect(url)
    try:
        names = []
        async for key in link.client.scan_iter(match="corocrawl:{*}:meta", count=500):
            text = key.decode()
            names.append(text[text.index("{") + 1 : text.index("}")])
        return sorted(names)
    finally:
        await link.close()


async def collect_into(
    url: str, crawl_name: str, sinks: Sequence[ItemSink], *, batch: int = 500
) -> int:
    """Upsert every item of the shared crawl into ``sinks``; return how many items.

    Items are read whole from Redis, so writing them again is idempotent: running
    collect twice, or two collects at once, leaves the same rows.
    """
    link = RedisLink.connect(url)
    keys = CrawlKeys(crawl_name)
    opened: list[ItemSink] = []
    count = 0
    try:
        for sink in sinks:
            await sink.open()
            opened.append(sink)
        chunk: list[KeyedItem] = []
        async for pair in iter_items(link, keys, batch=batch):
            chunk.append(pair)
            if len(chunk) >= batch:
                for sink in opened:
                    await sink.write(chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            for sink in opened:
                await sink.write(chunk)
            count += len(chunk)
    finally:
        for sink in reversed(opened):
            await sink.close()
        await link.close()
    return count


class SqliteUpsertSink:
    """Minimal SQLite sink: table ``items(key PRIMARY KEY, item JSON)``, merge on upsert."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, item TEXT NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.path} as an SQLite database: {exc}") from None

    async def write(self, items: Sequence[KeyedItem]) -> None:
        db = self._db
        assert db is not None, "open() first"
        # BEGIN IMMEDIATE: concurrent collects take turns instead of failing to
        # upgrade a read transaction to a write one.
        db.execute("BEGIN IMMEDIATE")
        try:
            for key, item in items:
                row = db.execute("SELECT item FROM items WHERE key = ?", (key,)).fetchone()
                merged = {**json.loads(row[0]), **item} if row else item
                db.execute(
                    "INSERT INTO items (key, item) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET item = excluded.item",
                    (key, json.dumps(merged, ensure_ascii=False, sort_keys=True)),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class SnapshotFileSink:
    """JSONL, JSON or CSV of ALL items, sorted by key, replaced atomically on close.

    A snapshot (not an append) is what makes ``collect -o`` idempotent. The file
    is written by the export writer every ``-o`` uses (``corocrawl.sinks._files``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        export_format(self.path)  # UsageError for an unknown extension, before any work
        self._items: dict[str, Item] = {}

    async def open(self) -> None:
        if not self.path.parent.exists():
            raise StorageError(
                f"cannot write {self.path}: folder {self.path.parent} does not exist"
            )

    async def write(self, items: Sequence[KeyedItem]) -> None:
        for key, item in items:
            self._items[key] = {**self._items.get(key, {}), **item}

    async def close(self) -> None:
        export_items((self._items[k] for k in sorted(self._items)), self.path)


def format_status(status: dict[str, Any]) -> str:
    """A few human lines for ``corocrawl status --redis URL``."""
    if not status["exists"]:
        return f"no shared crawl named {status['crawl']!r} on this Redis server"
    state = "finished" if status["finished"] else "running"
    lines = [
        f"crawl {status['crawl']!r}: {state}, {status['pages_per_s']} pages/s",
        f"  pending {status['pending']} (+{status['delayed']} waiting to retry), "
        f"leased {status['leased']}, done {status['done']}, failed {status['failed']}",
        f"  items {status['items']}, retried {status['retried']}, "
        f"reclaimed from dead workers {status['reclaimed']}, dead letters {status['dead_letters']}",
    ]
    for worker in status["workers"]:
        alive = "alive" if worker["alive"] else "GONE?"
        lines.append(
            f"  worker {worker['worker']}: {alive}, "
            f"last heartbeat {worker['last_heartbeat_s']} s ago, {worker['leased']} leased, "
            f"{worker['settled']} settled, {worker['pages_per_s']} pages/s"
        )
    return "\n".join(lines)


async def read_items_async(url: str, crawl_name: str = DEFAULT_CRAWL_NAME) -> list[KeyedItem]:
    """Every ``(key, item)`` of a shared crawl, sorted by key."""
    link = RedisLink.connect(url)
    try:
        pairs = [pair async for pair in iter_items(link, CrawlKeys(crawl_name))]
    finally:
        await link.close()
    return sorted(pairs, key=lambda pair: pair[0])


def read_items(url: str, crawl_name: str = DEFAULT_CRAWL_NAME) -> list[KeyedItem]:
    """Sync :func:`read_items_async`, for CLI code after the crawl's loop has ended."""
    return asyncio.run(read_items_async(url, crawl_name))
