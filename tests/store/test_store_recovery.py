"""Crash recovery, the process lock and integrity, with real processes killed by PID."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import corocrawl.store
from corocrawl._exceptions import StoreLocked
from corocrawl.frontier import FrontierCounts
from corocrawl.store import SqliteStore

WORKER = Path(__file__).with_name("store_worker.py")
SRC = Path(corocrawl.store.__file__).resolve().parents[2]


def start_worker(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_ready(proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    # readline blocks, but the worker prints "ready" or dies (closing stdout) quickly
    line = proc.stdout.readline()
    if line.strip() != "ready" or time.monotonic() > deadline:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"worker not ready: {line!r} {err}")


def kill(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    os.kill(proc.pid, sig)
    proc.communicate(timeout=10)


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:  # end what we started, by PID, on every exit path
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)


def table_counts(db: Path) -> tuple[list[int], list[int]]:
    """(the counts table, the real number of rows per state)."""
    with sqlite3.connect(db) as conn:
        stored = [n for _, n in conn.execute("SELECT state, n FROM counts ORDER BY state")]
        real = [0, 0, 0, 0]
        for state, n in conn.execute("SELECT state, count(*) FROM requests GROUP BY state"):
            real[state] = n
    conn.close()
    return stored, real


async def test_sigkill_with_leases_requeues_them_with_their_attempts(
        tmp_path: Path, workers: list[subprocess.Popen[str]]) -> None:
    db = tmp_path / "crawl.db"
    proc = start_worker("hold", str(db), "5")
    workers.append(proc)
    wait_ready(proc)
    kill(proc)
    assert proc.returncode == -signal.SIGKILL
    async with SqliteStore(db) as store:
        # the 5 leased and the retry leased again were in flight on disk
        assert store.recovered == 6
        assert await store.integrity_check() == "ok"
        assert await store.frontier.counts() == FrontierCounts(100, 0, 0, 0)
        leased = [await store.frontier.lease(0) for _ in range(100)]
    attempts = {r.request.url.rsplit("/", 1)[1]: r.request.attempt
                for r in leased if r is not None}
    assert len(attempts) == 100
    assert attempts["0"] == 1  # the retried request kept its attempt count
    assert sum(attempts.values()) == 1


async def test_second_process_is_refused_until_the_first_dies(
        tmp_path: Path, workers: list[subprocess.Popen[str]]) -> None:
    db = tmp_path / "crawl.db"
    proc = start_worker("hold", str(db), "1")
    workers.append(proc)
    wait_ready(proc)
    with pytest.raises(StoreLocked) as info:
        await SqliteStore(db).open()
    message = str(info.value)
    assert f"another corocrawl process (pid {proc.pid}) is using {db}" in message
    assert "wait for it or use another --db" in message
    assert "\n" not in message
    kill(proc)  # the kernel drops the flock with the process: no stale lock
    async with SqliteStore(db) as store:
        assert store.recovered == 2  # the retry leased again and one more


async def test_lock_is_per_file_within_one_process_too(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "a.db"):
        with pytest.raises(StoreLocked):
            await SqliteStore(tmp_path / "a.db").open()
        async with SqliteStore(tmp_path / "b.db"):
            pass


async def test_integrity_after_kills_at_random_moments(
        tmp_path: Path, workers: list[subprocess.Popen[str]]) -> None:
    db = tmp_path / "crawl.db"
    rng = random.Random(4)
    done_before = -1
    for _ in range(3):
        proc = start_worker("churn", str(db))
        workers.append(proc)
        wait_ready(proc)
        await asyncio.sleep(rng.uniform(0.05, 0.4))
        kill(proc)
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        stored, real = table_counts(db)
        assert stored == real  # counts move in the same transactions as the rows
        assert real[2] > done_before  # progress survived the kill
        done_before = real[2]
        with sqlite3.connect(db) as conn:
            items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
            done_urls = conn.execute(
                "SELECT count(*) FROM requests WHERE state = 2 AND "
                "json_extract(data, '$.url') IN (SELECT key FROM items)").fetchone()[0]
        conn.close()
        # ack after persist: every request marked done has its item stored
        assert done_urls == real[2] <= items
    async with SqliteStore(db) as store:
        counts = await store.frontier.counts()
        assert counts.in_flight == 0 and counts.done == done_before
