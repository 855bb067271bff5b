"""``corocrawl crawl`` and ``corocrawl links`` as a user runs them."""

from __future__ import annotations

import asyncio
import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from corocrawl import cli
from corocrawl.spiders._pagestore import PAGE_FIELDS, read_pages

from .site import TrapSite


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this package's commands: the CLI is tested without the others' modules."""
    only = tuple(c for c in cli.COMMANDS if c[1] in ("_crawl", "_links"))
    monkeypatch.setattr(cli, "COMMANDS", only)


@pytest.fixture
def threaded_site() -> Iterator[TrapSite]:
    """The trap site on its own loop in a thread, since the CLI runs its own loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    site = TrapSite()
    asyncio.run_coroutine_threadsafe(site.start(), loop).result(timeout=10)
    try:
        yield site
    finally:
        asyncio.run_coroutine_threadsafe(site.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


FAST_FLAGS = ["--timeout", "0.5", "--max-body", "1MB", "--retries", "0", "-q"]


@pytest.mark.usefixtures("commands")
def test_crawl_exports_and_links_report(
    threaded_site: TrapSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = threaded_site
    db, jsonl, csv_path = tmp_path / "site.db", tmp_path / "pages.jsonl", tmp_path / "pages.csv"
    code = cli.main(["crawl", site.url("/"), "--db", str(db), "-o", str(jsonl),
                     "-o", str(csv_path), "--max-depth", "1", *FAST_FLAGS])
    assert code == 0
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert all(list(row) == list(PAGE_FIELDS) for row in rows)
    # "/" and the 22 other pages it links to in scope, less /private/secret (robots.txt)
    assert len(rows) == 22
    with csv_path.open(encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == PAGE_FIELDS
        assert len(list(reader)) == 22
    capsys.readouterr()

    code = cli.main(["links", "--db", str(db), "--format", "json"])
    assert code == 1
    report = {item["url"].removeprefix(site.base): item
              for item in json.loads(capsys.readouterr().out)}
    gone = f"http://127.0.0.1:{site.dead_port}/gone"
    assert set(report) == {"/missing", "/broken", "/slow", "/loop-a", gone, "/r1"}
    assert report["/missing"]["status"] == 404
    assert report["/missing"]["linked_from"] == [site.url("/")]
    assert report["/broken"]["kind"] == "http_500"
    assert report[gone]["kind"] == "connect" and report["/slow"]["kind"] == "timeout"
    assert report["/loop-a"]["kind"] == "redirect_loop"
    chain = report["/r1"]
    assert chain["kind"] == "redirect_chain" and len(chain["redirects"]) == 5
    assert chain["redirects"][-1] == site.url("/final")

    assert cli.main(["links", "--db", str(db), "--max-redirects", "4"]) == 1
    text = capsys.readouterr().out
    assert "404" in text and "linked from " + site.url("/") in text and "/r1" not in text


@pytest.mark.usefixtures("commands")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["crawl", "http://127.0.0.1:9/", "--exclude", "(oops"], "--exclude '(oops'"),
        (["crawl", "http://127.0.0.1:9/", "--include", "[a-"], "--include '[a-'"),
        (["crawl", "ftp://example.com/"], "http:// or https://"),
        (["crawl", "http://127.0.0.1:9/", "--warc", "out.zip"], "--warc"),
        (["links", "--db", "/nonexistent/crawl.db"], "no crawl database"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.usefixtures("commands")
def test_links_on_a_database_without_a_crawl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3
    from contextlib import closing

    db = tmp_path / "other.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE items (k TEXT)")
    assert cli.main(["links", "--db", str(db)]) == 2
    assert "no generic crawl" in capsys.readouterr().err


@pytest.mark.usefixtures("commands")
def test_a_stopped_crawl_resumes_without_refetching(
    threaded_site: TrapSite, tmp_path: Path
) -> None:
    site = threaded_site
    db = tmp_path / "site.db"
    argv = ["crawl", site.url("/"), "--db", str(db), "--include", "/deep/", *FAST_FLAGS]
    assert cli.main([*argv, "--max-pages", "2"]) == 0
    assert len(read_pages(db)) == 2
    assert cli.main(argv) == 0
    paths = sorted(str(p["requested_url"]).removeprefix(site.base) for p in read_pages(db))
    assert paths == ["/", "/deep/1", "/deep/2", "/deep/3"]
    pages = [p for p in site.paths() if p != "/robots.txt"]
    assert sorted(pages) == paths  # each page fetched once over the two runs
    assert cli.main([*argv, "--fresh"]) == 0  # --fresh starts over
    assert len(read_pages(db)) == 4 and len(site.paths()) - site.paths().count("/robots.txt") == 8
