from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from corocrawl._exceptions import UsageError
from corocrawl.cli import _report
from corocrawl.cli._report import _read_items_table

from ._images import poster_png
from ._movies import movies


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    _report.register(parser.add_subparsers())
    return parser.parse_args(["report", *argv])


def _store(path: Path, items: list[dict[str, Any]]) -> None:
    """A crawl database holding ``items``: the real store's when installed."""
    try:
        from corocrawl.store import SqliteStore
    except ImportError:
        _items_table(path, items)
        return

    async def fill() -> None:
        async with SqliteStore(path, item_key="subject_id") as store:
            await store.sink.write([(str(m["subject_id"]), m) for m in items])

    asyncio.run(fill())


def _items_table(path: Path, items: list[dict[str, Any]]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE items (key TEXT PRIMARY KEY, item TEXT NOT NULL)")
        conn.executemany(
            "INSERT INTO items VALUES (?, ?)",
            [(m["subject_id"], json.dumps(m, ensure_ascii=False)) for m in items],
        )
    conn.close()


def test_report_from_a_crawl_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "crawl.db"
    _store(db, movies(10))
    posters = tmp_path / "posters"
    posters.mkdir()
    (posters / "2003-00000000000a.png").write_bytes(poster_png(3))
    out = tmp_path / "movies.html"
    args = _args(["--db", str(db), "--posters", str(posters), "-o", str(out)])
    assert args.run(args) == 0
    html = out.read_text(encoding="utf-8")
    assert html.count('<article class="card">') == 10
    assert 'src="posters/2003-00000000000a.png"' in html
    assert "(10 movies, 1 local posters)" in capsys.readouterr().out


def test_report_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no crawl database"):
        _report.run(_args(["--db", str(tmp_path / "none.db")]))
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(UsageError, match=r"not a (SQLite|corocrawl) database") as info:
        _report.run(_args(["--db", str(junk)]))
    assert "\n" not in str(info.value)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(UsageError, match=r"no items table|not a corocrawl database"):
        _report.run(_args(["--db", str(empty)]))


def test_empty_store_writes_a_page_and_exits_1(tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    _store(db, [])
    out = tmp_path / "movies.html"
    assert _report.run(_args(["--db", str(db), "-o", str(out)])) == 1
    assert "No movies yet" in out.read_text(encoding="utf-8")


def test_minimal_reader_takes_the_json_column_or_the_row(tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    _items_table(db, movies(2))
    assert [m["name"] for m in _read_items_table(db)] == [m["name"] for m in movies(2)]
    plain = tmp_path / "plain.db"
    conn = sqlite3.connect(plain)
    with conn:
        conn.execute("CREATE TABLE items (name TEXT, subject_id TEXT)")
        conn.execute("INSERT INTO items VALUES ('x', '1')")
    conn.close()
    assert list(_read_items_table(plain)) == [{"name": "x", "subject_id": "1"}]
