"""``corocrawl links --format json | head`` ends quietly, with no BrokenPipeError traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from corocrawl.spiders._pagestore import _SCHEMA


def _db_with_broken_links(path: Path, count: int) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO crawl_pages (requested_url, url, status, depth, referrer, bytes, "
            "links_out) VALUES (?, ?, 404, 1, 'http://127.0.0.1/', 0, 0)",
            [(f"http://127.0.0.1/gone/{i}", f"http://127.0.0.1/gone/{i}") for i in range(count)],
        )
    db.close()


def test_links_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    db = tmp_path / "site.db"
    _db_with_broken_links(db, 3000)  # ~600 kB of JSON: far past a pipe's buffer
    # As `| head -c 100`: read a little, then close our end of the pipe.
    proc = subprocess.Popen(
        [sys.executable, "-m", "corocrawl", "links", "--db", str(db), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b"[")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert err == ""


def test_text_output_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    db = tmp_path / "site.db"
    _db_with_broken_links(db, 3000)
    done = subprocess.run(
        f"{sys.executable} -m corocrawl links --db {db} | head -n 2",
        shell=True, capture_output=True, text=True, timeout=60, check=False,
    )
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
