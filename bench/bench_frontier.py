"""How fast the SQLite frontier queues and hands out requests, and what memory it needs.

    PYTHONPATH=src python bench/bench_frontier.py                 # 1,000,000 URLs
    PYTHONPATH=src python bench/bench_frontier.py --urls 100000   # quicker

Three figures, on a fresh database in a temporary directory:

1. enqueue: ``add`` of N new URLs in batches (dedup against the on-disk index);
2. cycle: what a crawl does per page: ``lease`` one request, ``settle`` it done
   with CHILDREN new child URLs, by WORKERS coroutines and a committer that
   settles in batches as the engine does. Ops = enqueues + dequeues;
3. peak RSS of the process with N URLs queued (target: < 300 MB), and the
   database size on disk.

The same cycle is run against the in-memory frontier when it is available, to
show what persistence costs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from corocrawl._request import Request
from corocrawl.frontier import Outcome
from corocrawl.store import SqliteStore


def rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc), falling back to the peak."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def url(i: int) -> str:
    return f"https://movie.example.com/subject/{i:08d}/?from=later&city=beijing"


async def enqueue(frontier: Any, total: int, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, total, batch):
        requests = [Request(url(i), callback="detail", depth=1)
                    for i in range(start, min(total, start + batch))]
        await frontier.add(requests)
    return time.perf_counter() - started


async def cycle(frontier: Any, pages: int, children: int, workers: int, first_child: int,
                commit_batch: int = 256) -> tuple[float, int, int]:
    """Lease+settle ``pages`` requests, each adding ``children`` URLs: (seconds, leases, adds)."""
    queue: asyncio.Queue[Outcome | None] = asyncio.Queue(maxsize=workers * 4)
    next_child = first_child
    leased = 0

    async def worker() -> None:
        nonlocal leased, next_child
        while leased < pages:
            request = await frontier.lease(0.05)
            if request is None:
                continue
            leased += 1
            kids = [Request(url(next_child + k), callback="detail") for k in range(children)]
            next_child += children
            await queue.put(Outcome(request, "done", children=kids))

    async def committer() -> None:
        while True:
            first = await queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < commit_batch and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:
                    await frontier.settle(batch)
                    return
                batch.append(nxt)
            await frontier.settle(batch)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        settle_task = group.create_task(committer())
        async with asyncio.TaskGroup() as pool:
            for _ in range(workers):
                pool.create_task(worker())
        await queue.put(None)
        await settle_task
    return time.perf_counter() - started, leased, leased * children


async def bench_sqlite(args: argparse.Namespace, db: Path) -> dict[str, float]:
    results: dict[str, float] = {}
    rss_before = rss_mb()
    async with SqliteStore(db, fresh=True) as store:
        frontier = store.frontier
        cpu = time.process_time()
        seconds = await enqueue(frontier, args.urls, args.batch)
        results["enqueue_per_s"] = args.urls / seconds
        results["enqueue_per_cpu_s"] = args.urls / (time.process_time() - cpu)
        gc.collect()
        results["rss_queued_mb"] = rss_mb()
        results["rss_growth_mb"] = results["rss_queued_mb"] - rss_before
        # re-adding known URLs: dedup hits
        seconds = await enqueue(frontier, min(args.urls, 100_000), args.batch)
        results["dedup_hits_per_s"] = min(args.urls, 100_000) / seconds
        cpu = time.process_time()
        seconds, leased, added = await cycle(frontier, args.pages, args.children, args.workers,
                                             first_child=args.urls)
        results["cycle_ops_per_s"] = (leased + added) / seconds
        # CPU time of both threads: the figure an idle machine would reach in wall time
        results["cycle_ops_per_cpu_s"] = (leased + added) / (time.process_time() - cpu)
        results["cycle_pages_per_s"] = leased / seconds
        results["transactions"] = store.writer.transactions
        counts = await frontier.counts()
        results["pending_after"] = counts.pending
    results["db_mb"] = sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 2**20
    results["peak_rss_mb"] = peak_rss_mb()
    return results


async def bench_memory(args: argparse.Namespace) -> dict[str, float] | None:
    try:
        from corocrawl.frontier import MemoryFrontier
    except ImportError:
        return None
    frontier = MemoryFrontier()
    await frontier.open()
    pages = args.pages
    await enqueue(frontier, pages, args.batch)
    cpu = time.process_time()
    seconds, leased, added = await cycle(frontier, pages, args.children, args.workers,
                                         first_child=pages)
    cpu = time.process_time() - cpu
    await frontier.close()
    return {"cycle_ops_per_s": (leased + added) / seconds, "cycle_pages_per_s": leased / seconds,
            "cycle_ops_per_cpu_s": (leased + added) / cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--urls", type=int, default=1_000_000, help="URLs to queue")
    parser.add_argument("--batch", type=int, default=1000, help="URLs per add() call")
    parser.add_argument("--pages", type=int, default=100_000, help="lease+settle cycles")
    parser.add_argument("--children", type=int, default=1, help="new URLs per settled page")
    parser.add_argument("--workers", type=int, default=64, help="leasing coroutines")
    parser.add_argument("--dir", default=None, help="where to put the database (default: tmp)")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-frontier-") as tmp:
        sqlite = asyncio.run(bench_sqlite(args, Path(tmp) / "frontier.db"))
    memory = asyncio.run(bench_memory(args))

    print(f"SQLite frontier, {args.urls:,} URLs queued (python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start)")
    print(f"  enqueue (new URLs)          {sqlite['enqueue_per_s']:>12,.0f} /s   "
          f"({sqlite['enqueue_per_cpu_s']:,.0f} per CPU-second)")
    print(f"  enqueue (duplicates)        {sqlite['dedup_hits_per_s']:>12,.0f} /s")
    print(f"  lease+settle cycle          {sqlite['cycle_ops_per_s']:>12,.0f} ops/s "
          f"({sqlite['cycle_ops_per_cpu_s']:,.0f} per CPU-second; "
          f"{sqlite['cycle_pages_per_s']:,.0f} pages/s, {args.children} child each, "
          f"{int(sqlite['transactions']):,} transactions)")
    print(f"  RSS with {args.urls:,} queued   {sqlite['rss_queued_mb']:>9,.0f} MB "
          f"(+{sqlite['rss_growth_mb']:,.0f} MB for the queue)")
    print(f"  peak RSS                    {sqlite['peak_rss_mb']:>9,.0f} MB")
    print(f"  database on disk            {sqlite['db_mb']:>9,.0f} MB")
    if memory is not None:
        ratio = sqlite["cycle_ops_per_s"] / memory["cycle_ops_per_s"]
        cpu_ratio = sqlite["cycle_ops_per_cpu_s"] / memory["cycle_ops_per_cpu_s"]
        print(f"in-memory frontier cycle      {memory['cycle_ops_per_s']:>12,.0f} ops/s "
              f"({memory['cycle_ops_per_cpu_s']:,.0f} per CPU-second) -> SQLite does "
              f"{ratio:.0%} of it ({cpu_ratio:.0%} per CPU-second)")
    ok = sqlite["cycle_ops_per_s"] >= 20_000 and sqlite["peak_rss_mb"] < 300
    print("targets (>= 20,000 ops/s, < 300 MB):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
