"""``corocrawl crawl --redis``: two workers and ``collect`` give what one process gives.

The generic crawl's page records travel through Redis as items carrying their
outlinks and redirect chain; ``collect --db`` rebuilds the tables that ``links``,
``status`` and ``export`` read. Compared with a single-process crawl of the same
trap site: the same pages (URL, status, error kind) and the same broken links.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import corocrawl
from corocrawl.spiders._pagestore import read_pages

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the crawl package
from crawl.site import TrapSite
from redis_server import run_workers

SRC = Path(corocrawl.__file__).resolve().parents[1]
#: As tests/crawl/test_cli.py: the slow page times out, the big one is cut, no retries.
FAST_FLAGS = ["--timeout", "0.5", "--max-body", "1MB", "--retries", "0", "--sitemaps", "-q"]


@pytest.fixture
def threaded_site() -> Iterator[TrapSite]:
    """The trap site with 60 generated pages, on its own loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    site = TrapSite(generated=60)
    asyncio.run_coroutine_threadsafe(site.start(), loop).result(timeout=10)
    try:
        yield site
    finally:
        asyncio.run_coroutine_threadsafe(site.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _corocrawl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, "-m", "corocrawl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _pages(db: Path) -> dict[str, tuple[object, ...]]:
    """requested URL → what a crawl learnt about it (the timing fields differ by run)."""
    return {
        page["requested_url"]: (page["url"], page["status"], page["content_type"],
                                page["title"], page["links_out"],
                                (page["error"] or "").split(":")[0])
        for page in read_pages(db)
    }


def _broken(db: Path, cwd: Path) -> list[dict[str, object]]:
    done = _corocrawl("links", "--db", str(db), "--format", "json", cwd=cwd)
    assert done.returncode == 1, done.stderr  # the trap site has broken links
    return sorted(json.loads(done.stdout), key=lambda finding: str(finding["url"]))


def test_two_redis_workers_and_collect_match_one_process(
    threaded_site: TrapSite, redis_url: str, tmp_path: Path
) -> None:
    site = threaded_site
    single = tmp_path / "single.db"
    starts = [site.url("/"), site.url("/gen/0")]
    done = _corocrawl("crawl", *starts, "--db", str(single), *FAST_FLAGS, cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    env = {**os.environ, "PYTHONPATH": str(SRC)}
    worker_args = ["crawl", *starts, "--redis", redis_url, "--crawl-name", "site",
                   *FAST_FLAGS]
    run_workers([[sys.executable, "-m", "corocrawl", *worker_args]] * 2, cwd=tmp_path, env=env)
    assert not (tmp_path / "corocrawl.db").exists()  # a worker keeps nothing locally

    shared = tmp_path / "shared.db"
    out = tmp_path / "pages.jsonl"
    done = _corocrawl("collect", "--redis", redis_url, "--crawl-name", "site",
                      "--db", str(shared), "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    expected = _pages(single)
    assert len(expected) > 60
    assert _pages(shared) == expected
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert {row["requested_url"] for row in rows} == set(expected)
    assert all("links" not in row and "redirects" not in row for row in rows)
    # Robots.txt and sitemaps per worker: each read them once; nobody fetched
    # the disallowed page; the sitemaps' pages are in both crawls.
    assert site.url("/private/open") in expected
    assert "/private/secret" not in site.paths()
    assert site.paths().count("/robots.txt") == 3
    assert site.paths().count("/sitemap_index.xml") == 3

    assert _broken(shared, tmp_path) == _broken(single, tmp_path)
    # A late worker finds the crawl done, fetches nothing, and --collect gathers it all.
    late = tmp_path / "late.db"
    done = _corocrawl(*worker_args, "--collect", "--db", str(late), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _pages(late) == expected
    for command in (["status"], ["export", "-o", str(tmp_path / "again.csv")]):
        done = _corocrawl(*command, "--db", str(shared), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
