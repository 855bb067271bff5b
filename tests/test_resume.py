"""Kill the crawler any way, at any moment: the next run finishes the same crawl.

The crawler runs as a real process (``corocrawl douban``) against the replica
with latency; the test kills it by PID at random moments (SIGKILL: no chance to
clean up; SIGINT: a graceful stop), resumes with the same command, and checks
that the items equal an uninterrupted run's exactly and that the replica saw
each page fetched at least once and again only when it was in flight at a kill.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import corocrawl
from corocrawl.demo import DemoConfig, DemoServerThread
from corocrawl.store import StoreReader

TODAY = dt.date(2026, 11, 27)
MOVIES = 2000
KILLS = 5
SRC = Path(corocrawl.__file__).resolve().parents[1]
DEMO = DemoConfig(movies=MOVIES, cities=("beijing",), latency=(0.002, 0.012), seed=4,
                  today=TODAY)


@pytest.fixture(scope="module")
def replica() -> Iterator[DemoServerThread]:
    with DemoServerThread(DEMO) as server:
        yield server


def fetches(server: DemoServerThread) -> dict[str, int]:
    counts: dict[str, int] = server.stats.snapshot(include_log=False)["fetches"]
    return counts


def crawl_command(server: DemoServerThread, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "corocrawl", "douban", "--db", str(db),
            "--start-url", server.url("/cinema/later/beijing/"), "--today", TODAY.isoformat(),
            "--concurrency", "32", "--per-host", "32", "-q", *extra]


def start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(SRC)})


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:  # on every exit path: end what we started, by PID
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)


def run_to_end(command: list[str], processes: list[subprocess.Popen[str]], code: int = 0,
               ) -> None:
    proc = start(command)
    processes.append(proc)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def by_subject(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keyed = {item["subject_id"]: item for item in items}
    assert len(keyed) == len(items), "duplicate rows"
    return keyed


@pytest.fixture(scope="module")
def clean_items(replica: DemoServerThread, tmp_path_factory: pytest.TempPathFactory,
                ) -> dict[str, dict[str, Any]]:
    """The items of one uninterrupted crawl: what every interrupted one must end with."""
    tmp = tmp_path_factory.mktemp("clean")
    out = tmp / "clean.jsonl"
    proc = start(crawl_command(replica, tmp / "clean.db", "-o", str(out)))
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    items = by_subject(read_jsonl(out))
    assert len(items) == MOVIES and all(item["poster_url"] for item in items.values())
    return items


def wait_for_fetches(server: DemoServerThread, proc: subprocess.Popen[str], target: int,
                     ) -> None:
    """Return once the replica has served ``target`` requests in all."""
    deadline = time.monotonic() + 60
    while sum(fetches(server).values()) < target:
        if proc.poll() is not None:
            raise AssertionError(f"the crawl ended before fetch {target}: {proc.stderr}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no fetch {target} within 60 s")
        time.sleep(0.003)


def check_db_after_stop(db: Path) -> int:
    """Integrity, and the rows left in flight (the most a resume may fetch again)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with StoreReader(db) as reader:
        return reader.counts()["in_flight"]


def interrupt_and_resume(replica: DemoServerThread, tmp_path: Path, sig: int, seed: int,
                         processes: list[subprocess.Popen[str]], *extra: str,
                         ) -> tuple[int, Path]:
    """Crawl with ``KILLS`` interruptions by ``sig``, then to the end; (in-flight sum, export)."""
    replica.stats.reset()
    db, out = tmp_path / "crawl.db", tmp_path / "resumed.jsonl"
    rng = random.Random(seed)
    moments = sorted(rng.sample(range(40, MOVIES - 200), KILLS))
    in_flight_at_stops = 0
    for moment in moments:
        proc = start(crawl_command(replica, db, *extra))
        processes.append(proc)
        wait_for_fetches(replica, proc, moment)
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
        if sig == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
        else:
            assert proc.returncode == 0, err  # a graceful stop is a normal end
            assert "Traceback" not in err
        in_flight_at_stops += check_db_after_stop(db)
    run_to_end(crawl_command(replica, db, "-o", str(out), *extra), processes)
    check_db_after_stop(db)
    return in_flight_at_stops, out


def assert_same_crawl(replica: DemoServerThread, out: Path, db: Path,
                      clean: dict[str, dict[str, Any]]) -> dict[str, int]:
    resumed = by_subject(read_jsonl(out))  # the -o file holds every run's items
    assert resumed == clean
    with StoreReader(db) as reader:
        assert by_subject(list(reader.iter_items())).keys() == clean.keys()
        assert reader.counts() == {"pending": 0, "in_flight": 0, "done": MOVIES + 1, "failed": 0}
    counts = fetches(replica)
    pages = {"/cinema/later/beijing/"} | {f"/subject/{sid}/" for sid in clean}
    assert pages <= counts.keys(), "a page was never fetched"
    return counts


#: One crawl process, and two crawl processes under the main one (--processes 2).
CRAWL_PROCESSES = pytest.mark.parametrize("extra", [(), ("--processes", "2")],
                                          ids=["one-process", "processes-2"])


@CRAWL_PROCESSES
def test_sigkill_at_random_moments_then_resume(
        replica: DemoServerThread, clean_items: dict[str, dict[str, Any]], tmp_path: Path,
        processes: list[subprocess.Popen[str]], extra: tuple[str, ...]) -> None:
    # With --processes the main process is killed; its orphans stop by themselves.
    in_flight, out = interrupt_and_resume(replica, tmp_path, signal.SIGKILL, 2026, processes,
                                          *extra)
    counts = assert_same_crawl(replica, out, tmp_path / "crawl.db", clean_items)
    refetched = sum(n - 1 for n in counts.values())
    # only a request in flight at a kill can be fetched again
    assert refetched <= in_flight, (refetched, in_flight)


@CRAWL_PROCESSES
def test_sigint_at_random_moments_then_resume(
        replica: DemoServerThread, clean_items: dict[str, dict[str, Any]], tmp_path: Path,
        processes: list[subprocess.Popen[str]], extra: tuple[str, ...]) -> None:
    in_flight, out = interrupt_and_resume(replica, tmp_path, signal.SIGINT, 7, processes, *extra)
    assert in_flight == 0  # a graceful stop finishes and stores what it started
    counts = assert_same_crawl(replica, out, tmp_path / "crawl.db", clean_items)
    assert all(n == 1 for n in counts.values()), "a graceful stop refetches nothing"


def test_status_and_retry_failed_with_permanent_failures(
        tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    demo = DemoConfig(movies=40, cities=("beijing",), fail_rate=0.1, seed=3, today=TODAY)
    db = tmp_path / "crawl.db"
    with DemoServerThread(demo) as server:
        command = crawl_command(server, db, "--retries", "0")
        run_to_end(command, processes)
        status = subprocess.run(
            [sys.executable, "-m", "corocrawl", "status", "--db", str(db)], capture_output=True,
            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(SRC)}, check=False)
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert "  failed               4" in lines and "  done                37" in lines
        assert any(line.startswith("  http_500        4   e.g. http://127.0.0.1") for line in lines)
        assert "  items               40" in lines

        retry = subprocess.run(
            [sys.executable, "-m", "corocrawl", "retry-failed", "--db", str(db)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(SRC)}, check=False)
        assert retry.returncode == 0 and "queued 4 failed requests again" in retry.stdout
        before = fetches(server)
        run_to_end(command, processes, code=1)  # 1: this run got nothing (they fail again)
        after = fetches(server)
    refetched = {path for path in after if after[path] != before.get(path, 0)}
    assert len(refetched) == 4 and all(path.startswith("/subject/") for path in refetched)
    with StoreReader(db) as reader:
        assert reader.counts()["failed"] == 4  # they fail for good, again


def test_a_full_disk_stops_with_one_line_and_the_next_run_finishes(
        tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    """A file-size limit (RLIMIT_FSIZE) makes writes fail as on a full disk."""
    demo = DemoConfig(movies=300, cities=("beijing",), seed=5, today=TODAY)
    db = tmp_path / "crawl.db"
    with DemoServerThread(demo) as server:
        command = crawl_command(server, db)
        limited = [sys.executable, "-c",
                   "import resource, runpy, sys\n"
                   "resource.setrlimit(resource.RLIMIT_FSIZE, (96 * 1024, 96 * 1024))\n"
                   "sys.argv = ['corocrawl', *sys.argv[1:]]\n"
                   "runpy.run_module('corocrawl', run_name='__main__')\n",
                   *command[3:]]
        proc = start(limited)
        processes.append(proc)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        assert str(db) in lines[0] and "run the same command again" in lines[0]
        check_db_after_stop(db)  # intact
        out = tmp_path / "all.jsonl"
        run_to_end([*command, "-o", str(out)], processes)
    assert len(by_subject(read_jsonl(out))) == 300


def test_a_second_crawl_on_the_same_db_is_refused(
        tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    demo = DemoConfig(movies=100, cities=("beijing",), latency=(0.2, 0.3), seed=6, today=TODAY)
    db = tmp_path / "crawl.db"
    with DemoServerThread(demo) as server:
        # slow enough (2 at a time, 0.2-0.3 s a page) to be still running throughout
        first = start(crawl_command(server, db, "--concurrency", "2", "--per-host", "2"))
        processes.append(first)
        wait_for_fetches(server, first, 3)
        second = start(crawl_command(server, db))
        processes.append(second)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert err.strip() == (f"corocrawl: error: another corocrawl process (pid {first.pid}) "
                               f"is using {db}; wait for it or use another --db")
        os.kill(first.pid, signal.SIGINT)
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err


@pytest.mark.parametrize("problem", ["not-sqlite", "future-format"])
def test_a_bad_db_is_one_line_and_exit_2(tmp_path: Path, problem: str,
                                         processes: list[subprocess.Popen[str]]) -> None:
    db = tmp_path / "crawl.db"
    if problem == "not-sqlite":
        db.write_text("my notes\n" * 100)
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("INSERT INTO meta VALUES ('schema_version', '9')")
        conn.close()
    before = db.read_bytes()
    # nothing is fetched before the database is opened, so any start URL will do
    proc = start([sys.executable, "-m", "corocrawl", "douban", "--db", str(db),
                  "--start-url", "http://127.0.0.1:9/cinema/later/beijing/", "-q"])
    processes.append(proc)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(db) in lines[0], err
    assert ("not a corocrawl database" if problem == "not-sqlite" else "storage format 9") in err
    assert db.read_bytes() == before
