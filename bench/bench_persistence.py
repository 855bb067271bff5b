"""What persistence costs: the douban replica crawl on the SQLite store vs in memory.

    PYTHONPATH=src python bench/bench_persistence.py                # 3,000 movies, 3 rounds
    PYTHONPATH=src python bench/bench_persistence.py --movies 1000 --rounds 1

The replica runs as its own process (``corocrawl serve-demo``, no latency, no
errors) so it does not share this process's CPU and GIL; the crawler runs here,
alternating memory and SQLite runs so machine load hits both alike. Reports
pages/s of each and the ratio (issue target: SQLite loses at most 15%).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from corocrawl._config import CrawlConfig
from corocrawl.spiders.douban import BROWSER_USER_AGENT, build_crawler
from corocrawl.store import SqliteStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_replica(movies: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "corocrawl", "serve-demo", "--port", str(port),
         "--movies", str(movies), "--cities", "beijing"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/cinema/later/beijing/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/robots.txt", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the replica did not start")


def crawl(url: str, concurrency: int, db: Path | None) -> tuple[float, int, float]:
    """One crawl: (pages/s, pages, CPU seconds of this process per page)."""
    cpu = time.process_time()
    rate, pages = _crawl(url, concurrency, db)
    return rate, pages, (time.process_time() - cpu) / max(pages, 1)


def _crawl(url: str, concurrency: int, db: Path | None) -> tuple[float, int]:
    config = CrawlConfig(concurrency=concurrency, per_host=concurrency,
                         user_agent=BROWSER_USER_AGENT)
    if db is None:
        crawler = build_crawler([url], config=config, polite_to_douban=False)
    else:
        store = SqliteStore(db, fresh=True, item_key="subject_id")
        crawler = build_crawler([url], config=config, frontier=store.frontier,
                                sinks=[store.sink], polite_to_douban=False)
    stats = crawler.run(handle_signals=False)
    return stats.pages_per_second, stats.pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    proc, url = start_replica(args.movies)
    memory: list[float] = []
    sqlite: list[float] = []
    memory_cpu: list[float] = []
    sqlite_cpu: list[float] = []
    try:
        crawl(url, args.concurrency, None)  # warm-up: imports, page cache
        with tempfile.TemporaryDirectory(prefix="bench-persist-") as tmp:
            for _ in range(args.rounds):
                rate, pages, cpu = crawl(url, args.concurrency, None)
                memory.append(rate)
                memory_cpu.append(cpu)
                rate, stored, cpu = crawl(url, args.concurrency,
                                          Path(tmp) / f"crawl{len(sqlite)}.db")
                sqlite.append(rate)
                sqlite_cpu.append(cpu)
                assert pages == stored == args.movies + 1, (pages, stored)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)

    mem, sql = statistics.median(memory), statistics.median(sqlite)
    print(f"douban replica crawl, {args.movies:,} detail pages + 1 list page, concurrency "
          f"{args.concurrency}, {args.rounds} rounds (load average {os.getloadavg()[0]:.1f})")
    print(f"  in memory        {mem:>8,.0f} pages/s  (runs: "
          f"{', '.join(f'{r:,.0f}' for r in memory)})")
    print(f"  SQLite store     {sql:>8,.0f} pages/s  (runs: "
          f"{', '.join(f'{r:,.0f}' for r in sqlite)})")
    print(f"  SQLite / memory  {sql / mem:>8.0%}   (target: >= 85%)")
    mem_cpu, sql_cpu = statistics.median(memory_cpu), statistics.median(sqlite_cpu)
    print(f"  crawler CPU per page: {mem_cpu * 1000:.2f} ms in memory, {sql_cpu * 1000:.2f} ms "
          f"on SQLite (+{sql_cpu / mem_cpu - 1:.0%}; the wall-clock ratio on an idle machine "
          f"with the crawler CPU-bound is about {mem_cpu / sql_cpu:.0%})")
    return 0 if sql / mem >= 0.85 else 1


if __name__ == "__main__":
    sys.exit(main())
