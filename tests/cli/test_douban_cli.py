"""``corocrawl douban`` as a user runs it: a subprocess against the replica."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corocrawl.demo import DemoConfig, DemoServerThread
from corocrawl.spiders.douban import FIELDS

TODAY = dt.date(2026, 11, 27)


def corocrawl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "corocrawl", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.stderr


@pytest.fixture(scope="module")
def replica() -> Iterator[DemoServerThread]:
    with DemoServerThread(DemoConfig(movies=30, cities=("beijing",), today=TODAY)) as server:
        yield server


def test_crawl_and_export(replica: DemoServerThread, tmp_path: Path) -> None:
    start = replica.url("/cinema/later/beijing/")
    jsonl, csv_path = tmp_path / "m.jsonl", tmp_path / "m.csv"
    result = corocrawl("douban", "--start-url", start, "--db", str(tmp_path / "c.db"),
                       "-o", str(jsonl), "-o", str(csv_path), "--today", TODAY.isoformat())
    assert result.returncode == 0, result.stderr
    assert "31 pages, 30 items, 0 errors" in result.stdout
    rows = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()]
    assert len(rows) == 30 and all(list(r) == list(FIELDS) for r in rows)
    assert all(r["poster_url"] and r["release_date"] for r in rows)
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 30 and list(table[0]) == list(FIELDS)
    assert {r["name"] for r in table} == {r["name"] for r in rows}


def test_malformed_url(tmp_path: Path) -> None:
    result = corocrawl("douban", "--start-url", "htp:/nope", "--db", str(tmp_path / "c.db"))
    assert_one_line_error(result, 2, "invalid URL")


def test_refused_connection(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = corocrawl("douban", "--start-url", f"http://127.0.0.1:{port}/cinema/later/x/",
                       "--db", str(tmp_path / "c.db"), "--retries", "1")
    assert_one_line_error(result, 2, "cannot reach")


def test_unwritable_db(tmp_path: Path, replica: DemoServerThread) -> None:
    (tmp_path / "afile").write_text("x")
    result = corocrawl("douban", "--start-url", replica.url("/cinema/later/beijing/"),
                       "--db", str(tmp_path / "afile" / "c.db"))
    assert_one_line_error(result, 2, "--db")


def test_missing_city(tmp_path: Path, replica: DemoServerThread) -> None:
    result = corocrawl("douban", "--start-url", replica.url("/cinema/later/atlantis/"),
                       "--db", str(tmp_path / "c.db"))
    assert_one_line_error(result, 2, "no such list page")
    result = corocrawl("douban", "--city", "Bad City", "--db", str(tmp_path / "c.db"))
    assert_one_line_error(result, 2, "bad city")


def test_bad_export_extension(tmp_path: Path, replica: DemoServerThread) -> None:
    result = corocrawl("douban", "--start-url", replica.url("/cinema/later/beijing/"),
                       "--db", str(tmp_path / "c.db"), "-o", str(tmp_path / "m.xlsx"))
    assert_one_line_error(result, 2, ".xlsx")


def test_sigint_stops_gracefully(tmp_path: Path) -> None:
    demo = DemoConfig(movies=200, today=TODAY, latency=(0.2, 0.4))
    with DemoServerThread(demo) as server:
        out = tmp_path / "m.jsonl"
        proc = subprocess.Popen(
            [sys.executable, "-m", "corocrawl", "douban", "--start-url",
             server.url("/cinema/later/beijing/"), "--db", str(tmp_path / "c.db"),
             "-o", str(out), "--concurrency", "4", "--per-host", "4"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 20
        while server.stats.total < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped early: SIGINT" in stdout
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows) == 200, "the list page's items were all stored before the stop"
    with_poster = sum(1 for r in rows if r["poster_url"])
    assert 5 <= with_poster < 200
