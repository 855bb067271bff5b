"""Items upserted by key and merged ``{**old, **new}``, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from corocrawl._exceptions import StorageError
from corocrawl.store import SqliteStore, StoreReader


async def test_merge_upsert(tmp_path: Path) -> None:
    db = tmp_path / "items.db"
    async with SqliteStore(db, item_key="subject_id") as store:
        await store.sink.write([
            ("1", {"subject_id": "1", "name": "A", "poster_url": None}),
            ("2", {"subject_id": "2", "name": "B", "poster_url": None}),
        ])
        # the detail page writes the poster later; the list fields stay
        await store.sink.write([("1", {"subject_id": "1", "poster_url": "http://img/1.jpg"})])
        # the same list page fetched again after a crash: no duplicate, poster kept
        await store.sink.write([("1", {"subject_id": "1", "name": "A", "wants": 5})])
        # a later explicit null overwrites, as {**old, **new} does
        await store.sink.write([("2", {"name": None}), ("2", {"name": "B2"})])
    with StoreReader(db) as reader:
        items = list(reader.iter_items())
        assert reader.item_count() == 2
    assert items == [
        {"subject_id": "1", "name": "A", "poster_url": "http://img/1.jpg", "wants": 5},
        {"subject_id": "2", "name": "B2", "poster_url": None},
    ]


async def test_items_keep_unicode_and_order_across_runs(tmp_path: Path) -> None:
    db = tmp_path / "items.db"
    async with SqliteStore(db) as store:
        await store.sink.write([(str(i), {"name": f"电影{i}", "genre": "奇幻 / 冒险"})
                                for i in range(3)])
    async with SqliteStore(db) as store:
        await store.sink.write([("9", {"name": "后来"}), ("0", {"wants": 12})])
    with StoreReader(db) as reader:
        items = list(reader.iter_items(batch=2))
    assert [item["name"] for item in items] == ["电影0", "电影1", "电影2", "后来"]
    assert items[0] == {"name": "电影0", "genre": "奇幻 / 冒险", "wants": 12}


async def test_unstorable_item_is_a_clear_error(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "items.db") as store:
        with pytest.raises(StorageError, match="cannot store item 'k'"):
            await store.sink.write([("k", {"when": object()})])
        await store.sink.write([("ok", {"tags": {"b", "a"}})])  # sets are stored as lists
    with StoreReader(tmp_path / "items.db") as reader:
        assert list(reader.iter_items()) == [{"tags": ["a", "b"]}]
