"""``corocrawl status``, ``retry-failed`` and ``export`` on real crawl databases."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from pathlib import Path

import pytest

import corocrawl.cli
from corocrawl._request import Request
from corocrawl.cli import main
from corocrawl.frontier import Outcome
from corocrawl.store import SqliteStore, StoreReader


def url(path: str) -> str:
    return f"http://site.test:8080/{path}"


async def make_crawl(db: Path) -> None:
    """A stored crawl: 6 done with items, 3 failed for two reasons, 2 pending."""
    async with SqliteStore(db, item_key="subject_id") as store:
        f = store.frontier
        await f.add([Request(url(f"subject/{i}/"), callback="detail") for i in range(11)])
        leased = [await f.lease(0) for _ in range(9)]
        requests = [r for r in leased if r is not None]
        await store.sink.write([(str(i), {"subject_id": str(i), "name": f"电影{i}"})
                                for i in range(6)])
        outcomes = [Outcome(r, "done") for r in requests[:6]]
        outcomes += [Outcome(r, "failed", error="http_500: 500 Internal Server Error")
                     for r in requests[6:8]]
        outcomes.append(Outcome(requests[8], "failed", error="timeout: read timed out"))
        await f.settle(outcomes)


@pytest.fixture(autouse=True)
def only_store_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the CLI with just the commands under test, so another command's import
    problem cannot fail these tests."""
    wanted = ("_status", "_retry_failed", "_export")
    only = tuple(c for c in corocrawl.cli.COMMANDS if c[1] in wanted)
    monkeypatch.setattr(corocrawl.cli, "COMMANDS", only)


@pytest.fixture
def crawl_db(tmp_path: Path) -> Path:
    db = tmp_path / "crawl.db"
    asyncio.run(make_crawl(db))
    return db


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


async def make_failed_crawl(db: Path, errors: list[str]) -> None:
    """A stored crawl whose every request failed, with these errors."""
    async with SqliteStore(db) as store:
        f = store.frontier
        await f.add([Request(url(f"page/{i}")) for i in range(len(errors))])
        leased = [await f.lease(0) for _ in errors]
        await f.settle([Outcome(r, "failed", error=error)
                        for r, error in zip(leased, errors, strict=True) if r is not None])


def test_status_does_not_suggest_retrying_a_404(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "gone.db"
    asyncio.run(make_failed_crawl(db, ["http_404: HTTP 404", "http_410: HTTP 410"]))
    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "retry-failed" not in out
    assert "would fail the same way" in out


def test_status_suggests_a_user_agent_for_blocked_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "blocked.db"
    asyncio.run(make_failed_crawl(db, ["blocked: HTTP 418: the site refuses this client",
                                       "http_404: HTTP 404"]))
    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "1 were refused as a bot: send a browser --user-agent" in out
    assert f"then: corocrawl retry-failed --db {db}" in out


def test_status(crawl_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--db", str(crawl_db)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"crawl in {crawl_db}"
    table = {line.split()[0]: line.split()[-1] for line in lines[1:6]}
    assert table == {"pending": "2", "in": "0", "done": "6", "failed": "3", "items": "6"}
    assert "last activity  20" in out and "s ago)" in out
    assert "http_500        2   e.g. http://site.test:8080/subject/6/: http_500: 500" in out
    assert "timeout         1" in out
    assert out.index("http_500") < out.index("timeout")
    assert f"corocrawl retry-failed --db {crawl_db}" in out
    assert "run the same crawl command again" in out


def test_retry_failed_then_status(crawl_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retry-failed", "--db", str(crawl_db)]) == 0
    assert "queued 3 failed requests again" in capsys.readouterr().out
    with StoreReader(crawl_db) as reader:
        status = reader.status()
    assert (status.pending, status.failed, status.done) == (5, 0, 6)
    assert main(["retry-failed", "--db", str(crawl_db)]) == 0
    assert "no failed requests" in capsys.readouterr().out

    async def lease_all() -> list[Request]:
        async with SqliteStore(crawl_db) as store:
            got = [await store.frontier.lease(0) for _ in range(6)]
        return [r.request for r in got if r is not None]

    again = asyncio.run(lease_all())
    assert len(again) == 5 and all(r.attempt == 0 for r in again)


def test_retry_failed_refuses_while_a_crawl_runs(crawl_db: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    async def while_open() -> int:
        async with SqliteStore(crawl_db):
            return await asyncio.to_thread(main, ["retry-failed", "--db", str(crawl_db)])

    assert asyncio.run(while_open()) == 1
    assert "is using" in one_line_error(capsys)


def test_export_jsonl_and_csv(crawl_db: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    jsonl, table = tmp_path / "m.jsonl", tmp_path / "m.csv"
    assert main(["export", "--db", str(crawl_db), "-o", str(jsonl), "-o", str(table)]) == 0
    assert "wrote 6 items to" in capsys.readouterr().out
    rows = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()]
    assert rows[0] == {"subject_id": "0", "name": "电影0"} and len(rows) == 6
    with table.open(encoding="utf-8-sig", newline="") as f:
        assert [r["name"] for r in csv.DictReader(f)] == [f"电影{i}" for i in range(6)]
    assert main(["export", "--db", str(crawl_db), "-o", str(table), "--fields", "name"]) == 0
    with table.open(encoding="utf-8-sig", newline="") as f:
        assert next(iter(csv.DictReader(f))) == {"name": "电影0"}


def test_export_while_the_crawl_is_open(crawl_db: Path, tmp_path: Path) -> None:
    async def while_open() -> int:
        async with SqliteStore(crawl_db) as store:
            await store.sink.write([("new", {"name": "新"})])
            return await asyncio.to_thread(
                main, ["export", "--db", str(crawl_db), "-o", str(tmp_path / "m.jsonl")])

    assert asyncio.run(while_open()) == 0
    assert len((tmp_path / "m.jsonl").read_text("utf-8").splitlines()) == 7


@pytest.mark.parametrize("command", [["status"], ["retry-failed"],
                                     ["export", "-o", "out.jsonl"]])
def test_a_missing_database(tmp_path: Path, command: list[str],
                            capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "nothing.db"
    assert main([command[0], "--db", str(db), *command[1:]]) == 2
    assert f"no crawl database at {db}" in one_line_error(capsys)
    assert not db.exists()


@pytest.mark.parametrize("command", [["status"], ["retry-failed"],
                                     ["export", "-o", "out.jsonl"]])
def test_not_a_corocrawl_database(tmp_path: Path, command: list[str],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "notes.db"
    db.write_text("not a database at all\n" * 50)
    assert main([command[0], "--db", str(db), *command[1:]]) == 2
    assert "is not a corocrawl database" in one_line_error(capsys)
    assert db.read_text() == "not a database at all\n" * 50


def test_an_incompatible_schema_version(crawl_db: Path, capsys: pytest.CaptureFixture[str],
                                        ) -> None:
    with sqlite3.connect(crawl_db) as conn:
        conn.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
    conn.close()
    for command in (["status"], ["retry-failed"]):
        assert main([command[0], "--db", str(crawl_db)]) == 2
        assert "storage format 2" in one_line_error(capsys)


def test_export_needs_an_output(crawl_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["export", "--db", str(crawl_db)])
    assert info.value.code == 2
    assert main(["export", "--db", str(crawl_db), "-o", "x.txt"]) == 2
    capsys.readouterr()
