"""RedisSink merge semantics, collect idempotence and status, on a real redis-server."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from pathlib import Path

from corocrawl import Request
from corocrawl.frontier import Outcome
from corocrawl.redis import RedisFrontier, RedisSink, redis_status_async
from corocrawl.redis._status import SnapshotFileSink, SqliteUpsertSink, collect_into, list_crawls


async def test_sink_merges_by_key_across_writers(redis_url: str) -> None:
    a, b = RedisSink(redis_url, "s"), RedisSink(redis_url, "s")
    await a.open()
    await b.open()
    try:
        await a.write([("m1", {"subject_id": "m1", "name": "盗梦空间", "tags": ["a", "b"]})])
        await b.write([("m1", {"subject_id": "m1", "poster_url": "https://img/p1.webp"})])
        await a.write(
            [("m1", {"name": "Inception"}), ("m2", {"subject_id": "m2", "n": 1.5, "x": None})]
        )
    finally:
        await a.close()
        await b.close()
    from corocrawl.redis._link import CrawlKeys, RedisLink
    from corocrawl.redis._sink import iter_items

    link = RedisLink.connect(redis_url)
    try:
        items = {key: item async for key, item in iter_items(link, CrawlKeys("s"))}
        stream_len = await link.client.xlen(CrawlKeys("s").item_stream)
    finally:
        await link.close()
    assert items == {
        "m1": {
            "subject_id": "m1",
            "name": "Inception",
            "tags": ["a", "b"],
            "poster_url": "https://img/p1.webp",
        },
        "m2": {"subject_id": "m2", "n": 1.5, "x": None},
    }
    assert stream_len == 4
    status = await redis_status_async(redis_url, "s")
    assert status["items"] == 2


async def test_collect_is_idempotent_and_concurrent_safe(redis_url: str, tmp_path: Path) -> None:
    sink = RedisSink(redis_url, "c")
    await sink.open()
    await sink.write([(f"k{i:04d}", {"id": i, "name": f"movie {i}"}) for i in range(1200)])
    await sink.write([(f"k{i:04d}", {"poster": f"p{i}.jpg"}) for i in range(0, 1200, 2)])
    await sink.close()
    db = tmp_path / "out.db"
    # A stale row from an earlier, partial collect gets merged, not duplicated.
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE items (key TEXT PRIMARY KEY, item TEXT NOT NULL)")
        conn.execute("INSERT INTO items VALUES ('k0001', ?)", (json.dumps({"id": 1, "old": True}),))
    conn.close()
    counts = await asyncio.gather(
        collect_into(redis_url, "c", [SqliteUpsertSink(db)]),
        collect_into(redis_url, "c", [SqliteUpsertSink(db)]),
    )
    assert counts == [1200, 1200]
    jsonl, csv_path = tmp_path / "items.jsonl", tmp_path / "items.csv"
    for _ in range(2):
        await collect_into(
            redis_url,
            "c",
            [SqliteUpsertSink(db), SnapshotFileSink(jsonl), SnapshotFileSink(csv_path)],
        )
    conn = sqlite3.connect(db)
    try:
        rows = dict(conn.execute("SELECT key, item FROM items").fetchall())
    finally:
        conn.close()
    assert len(rows) == 1200
    assert json.loads(rows["k0000"]) == {"id": 0, "name": "movie 0", "poster": "p0.jpg"}
    assert json.loads(rows["k0001"]) == {"id": 1, "name": "movie 1", "old": True}
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1200 and json.loads(lines[0])["poster"] == "p0.jpg"
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 1200 and table[1]["poster"] == ""
    # The command's path (the crawl store's sink when installed): concurrent runs take turns.
    from corocrawl.redis._worker import collect

    fresh = tmp_path / "fresh.db"
    assert await asyncio.gather(
        collect(redis_url, "c", db=fresh), collect(redis_url, "c", db=fresh)
    ) == [1200, 1200]


def test_collect_command_writes_every_output(redis_url: str, tmp_path: Path) -> None:
    """``collect -o a.jsonl -o b.csv -o c.json`` writes all three (it once wrote only the last)."""
    from corocrawl.cli import main

    async def fill() -> None:
        sink = RedisSink(redis_url, "multi")
        await sink.open()
        await sink.write([(f"k{i}", {"id": i, "name": f"电影 {i}"}) for i in range(5)])
        await sink.close()

    asyncio.run(fill())
    outs = [tmp_path / "a.jsonl", tmp_path / "b.csv", tmp_path / "c.json"]
    argv = ["collect", "--redis", redis_url, "--crawl-name", "multi"]
    for out in outs:
        argv += ["-o", str(out)]
    assert main(argv) == 0
    jsonl = [json.loads(line) for line in outs[0].read_text("utf-8").splitlines()]
    with outs[1].open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f))
    array = json.loads(outs[2].read_bytes())
    assert jsonl == array == [{"id": i, "name": f"电影 {i}"} for i in range(5)]
    assert [row["name"] for row in table] == [f"电影 {i}" for i in range(5)]


async def test_status_reports_queue_and_workers(redis_url: str) -> None:
    frontier = RedisFrontier(redis_url, "st", lease_seconds=5, prefetch=4)
    await frontier.open()
    try:
        await frontier.add([Request(f"http://127.0.0.1:9/{i}") for i in range(5)])
        request = await frontier.lease(1)
        assert request is not None
        await frontier.settle([Outcome(request, "failed", error="http: 404 not found")])
        status = await redis_status_async(redis_url, "st")
    finally:
        await frontier.close()
    assert status["exists"] and not status["finished"]
    assert (status["pending"], status["leased"], status["failed"]) == (1, 3, 1)
    assert status["recent_failures"] == ["http://127.0.0.1:9/0\thttp: 404 not found"]
    assert len(status["workers"]) == 1 and status["workers"][0]["alive"]
    assert "st" in await list_crawls(redis_url)
    after = await redis_status_async(redis_url, "st")
    assert after["workers"] == [] and after["pending"] == 4  # close returned the prefetched leases


def test_collect_command_writes_db_and_jsonl(redis_server: object, tmp_path: Path) -> None:
    import argparse

    import pytest

    from corocrawl._exceptions import UsageError
    from corocrawl.cli import _collect
    from corocrawl.redis import format_status, redis_status

    url = redis_server.url  # type: ignore[attr-defined]

    async def fill() -> None:
        sink = RedisSink(url, "cli")
        await sink.open()
        await sink.write([("a", {"subject_id": "a"}), ("b", {"subject_id": "b", "poster": "x"})])
        await sink.close()

    asyncio.run(fill())
    parser = argparse.ArgumentParser()
    _collect.register(parser.add_subparsers())
    db, out = tmp_path / "m.db", tmp_path / "m.jsonl"
    args = parser.parse_args(
        ["collect", "--redis", url, "--crawl-name", "cli", "--db", str(db), "-o", str(out)]
    )
    assert args.run(args) == 0
    assert args.run(args) == 0  # idempotent
    assert len(out.read_text().splitlines()) == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
    conn.close()
    with pytest.raises(UsageError, match="--db"):
        args.run(parser.parse_args(["collect", "--redis", url]))
    empty = parser.parse_args(["collect", "--redis", url, "--crawl-name", "none", "-o", str(out)])
    assert empty.run(empty) == 1
    text = format_status(redis_status(url, "cli"))
    assert "no shared crawl named 'cli'" in text  # items only, never seeded
