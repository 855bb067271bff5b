"""A --db that cannot be used gets one line saying what to do, and is left intact."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from corocrawl._exceptions import CorocrawlError, StorageError, UsageError
from corocrawl._request import Request
from corocrawl.store import BadDatabase, SqliteStore, StoreReader

NOBODY = 65534


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and message
    return message


def names_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    db.write_text("shopping list\n" * 100)
    before = db.read_bytes()
    with pytest.raises(BadDatabase) as info:
        await SqliteStore(db).open()
    assert "is not a corocrawl database" in one_line(info.value)
    assert isinstance(info.value, UsageError)  # the CLI exits 2
    with pytest.raises(BadDatabase):
        StoreReader(db)
    assert db.read_bytes() == before


async def test_another_programs_sqlite_file_is_not_touched_even_with_fresh(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
        conn.execute("INSERT INTO contacts VALUES ('ada')")
    conn.close()
    before = db.read_bytes()
    for fresh in (False, True):
        with pytest.raises(BadDatabase, match="SQLite file but not a corocrawl database"):
            await SqliteStore(db, fresh=fresh).open()
    assert db.read_bytes() == before  # not even switched to WAL mode
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM contacts").fetchall() == [("ada",)]
    conn.close()


async def test_an_unknown_schema_version(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    async with SqliteStore(db) as store:
        await store.frontier.add([Request("http://site.test/a")])
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(BadDatabase) as info:
        await SqliteStore(db).open()
    message = one_line(info.value)
    assert "storage format 99" in message and "--fresh" in message
    assert db.read_bytes() == before
    with pytest.raises(BadDatabase, match="storage format 99"):
        StoreReader(db)
    async with SqliteStore(db, fresh=True) as store:  # the way out the message names
        assert await store.frontier.add([Request("http://site.test/a")]) == 1


@pytest.mark.parametrize("where", ["missing-dir", "parent-is-a-file", "a-directory"])
async def test_a_path_that_cannot_exist(tmp_path: Path, where: str) -> None:
    if where == "missing-dir":
        db = tmp_path / "no" / "such" / "dir" / "crawl.db"
    elif where == "a-directory":
        db = tmp_path / "crawl.db"
        db.mkdir()
    else:
        (tmp_path / "file").write_text("x")
        db = tmp_path / "file" / "crawl.db"
    with pytest.raises(BadDatabase) as info:
        await SqliteStore(db).open()
    message = one_line(info.value)
    assert str(db) in message and "--db" in message
    assert names_in(tmp_path) == {"missing-dir": [], "parent-is-a-file": ["file"],
                                  "a-directory": ["crawl.db"]}[where]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="corocrawl-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        path.chmod(0o755)
        shutil.rmtree(path)


def open_as_unprivileged(db: Path) -> tuple[int, str]:
    """Open the store and write, in a forked child that file permissions apply to.

    Root ignores permission bits, so when the tests run as root the child
    drops to user nobody first. Returns (exit code, the error line or "").
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)

            async def use() -> None:
                async with SqliteStore(db) as store:
                    await store.sink.write([("k", {"a": 1})])

            asyncio.run(use())
        except CorocrawlError as exc:
            os.write(write_end, f"{type(exc).__name__} {exc}".encode())
            code = 2
        except BaseException as exc:
            os.write(write_end, f"unexpected {exc!r}".encode())
            code = 3
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output


def test_a_read_only_directory(shared_dir: Path) -> None:
    ro = shared_dir / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    code, output = open_as_unprivileged(ro / "crawl.db")
    assert code == 2, output
    assert output.startswith("BadDatabase cannot use")
    assert "writable directory" in output and "\n" not in output
    assert list(ro.iterdir()) == []


def test_a_read_only_database_is_left_intact(shared_dir: Path) -> None:
    db = shared_dir / "crawl.db"

    async def fill() -> None:
        async with SqliteStore(db) as store:
            await store.sink.write([("k", {"a": 0})])

    asyncio.run(fill())
    os.chmod(db.with_name("crawl.db.lock"), 0o666)  # the lock is not what we test here
    db.chmod(0o444)
    shared_dir.chmod(0o555)
    before = db.read_bytes()
    code, output = open_as_unprivileged(db)
    assert code == 2, output
    assert output.startswith("BadDatabase"), output
    assert "read-only" in output or "cannot open" in output
    assert db.read_bytes() == before


async def test_a_full_disk_keeps_what_was_committed(tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    async with SqliteStore(db) as store:
        await store.sink.write([(str(i), {"n": i}) for i in range(10)])
        await store.frontier.add([Request(f"http://site.test/{i}") for i in range(10)])

        # SQLite reports a page limit exactly as a full disk (SQLITE_FULL).
        def limit(conn: sqlite3.Connection, deltas: list[int]) -> None:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + 1}")

        await store.writer.run(limit)
        big = [(f"big{i}", {"blob": "x" * 2000}) for i in range(200)]
        with pytest.raises(StorageError) as info:
            await store.sink.write(big)
        message = one_line(info.value)
        assert f"the disk holding {db} is full" in message and "run the same command" in message
        with pytest.raises(StorageError, match="is full"):
            await store.frontier.add([Request(f"http://site.test/more{i}/" + "p" * 500)
                                      for i in range(500)])
        assert (await store.frontier.counts()).pending == 10  # the failed add left no trace
        assert await store.integrity_check() == "ok"
    with StoreReader(db) as reader:
        assert reader.item_count() == 10
        assert reader.counts()["pending"] == 10
