"""Figures for the Redis backend: dedup bytes/URL, per-request overhead, pages/s per worker count.

    python bench/bench_redis.py                 # everything, with its own redis-server
    python bench/bench_redis.py dedup --urls 1000000
    python bench/bench_redis.py overhead --requests 20000
    python bench/bench_redis.py workers --workers 1 2 4 --pages 3000

It starts Debian's redis-server on a free loopback port in a temp dir (or uses
--redis URL) and the replica (`corocrawl serve-demo`, with per-page latency) in a
subprocess; the workers run the douban spider.
Every process it starts is stopped by PID before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from corocrawl import CrawlConfig, Crawler, Request  # noqa: E402
from corocrawl.frontier import MemoryFrontier, Outcome  # noqa: E402
from corocrawl.redis import RedisFrontier, RedisOptions, run_shared  # noqa: E402
from corocrawl.redis._frontier import DEDUP_FIELD_BYTES, dedup_bits  # noqa: E402
from corocrawl.redis._link import CrawlKeys, RedisLink  # noqa: E402
from corocrawl.spiders.douban import BROWSER_USER_AGENT, build_crawler  # noqa: E402
from corocrawl.store import SqliteStore  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """``url`` as given, or a fresh redis-server (no persistence) stopped by PID at the end."""
    if url:
        yield url
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--logfile", f"{workdir}/redis.log"],
        )  # fmt: skip
        try:
            for _ in range(500):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), 0.2),
                ):
                    break
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


async def flush(url: str) -> None:
    link = RedisLink.connect(url)
    await link.client.flushall()
    await link.close()


# -- dedup memory ---------------------------------------------------------------------


async def bench_dedup(url: str, urls: int) -> dict[str, Any]:
    """Bytes per URL of the dedup buckets after ``urls`` distinct URLs."""
    await flush(url)
    link = RedisLink.connect(url)
    client = link.client
    keys = CrawlKeys("bench-dedup")
    frontier = RedisFrontier(url, "bench-dedup", expected_urls=urls)
    await frontier.open()
    await client.execute_command("MEMORY", "PURGE")
    before = (await client.info("memory"))["used_memory"]
    started = time.perf_counter()
    batch = 2000
    for start in range(0, urls, batch):
        requests = [
            Request(f"https://movie.douban.com/subject/{n}/?from=showing")
            for n in range(start, min(start + batch, urls))
        ]
        await frontier.add(requests)
    seconds = time.perf_counter() - started
    again = await frontier.add([Request("https://movie.douban.com/subject/7/?from=showing")])
    await frontier.close()
    # Drop everything but the dedup buckets (the queue is per host now: hq:<host>,
    # rhost, hosts ...), then measure.
    buckets_prefix = keys.prefix + "s:"
    others = [key async for key in client.scan_iter(match=keys.prefix + "*", count=1000)
              if not key.decode().startswith(buckets_prefix)]
    for start in range(0, len(others), 500):
        await client.delete(*others[start:start + 500])
    await client.execute_command("MEMORY", "PURGE")
    after = (await client.info("memory"))["used_memory"]
    buckets = 0
    usage = 0
    encodings: dict[str, int] = {}
    async for key in client.scan_iter(match=keys.prefix + "s:*", count=1000):
        buckets += 1
        usage += await client.memory_usage(key, samples=0) or 0
        if buckets <= 200:
            enc = (await client.object("encoding", key)).decode()
            encodings[enc] = encodings.get(enc, 0) + 1
    await link.close()
    bits = dedup_bits(urls) + 8 * DEDUP_FIELD_BYTES
    return {
        "urls": urls,
        "add_seconds": round(seconds, 1),
        "adds_per_s": round(urls / seconds),
        "re_add_is_noop": again == 0,
        "used_memory_delta_bytes_per_url": round((after - before) / urls, 2),
        "memory_usage_bytes_per_url": round(usage / urls, 2),
        "buckets": buckets,
        "encodings_of_200_buckets": encodings,
        "identity_bits": bits,
        "p_any_false_duplicate": f"{urls * urls / 2 ** (bits + 1):.1e}",
    }


async def bench_set_baseline(url: str, urls: int) -> float:
    """scrapy-redis's dedup for comparison: a SET of 40-hex-char SHA1 fingerprints."""
    import hashlib

    await flush(url)
    link = RedisLink.connect(url)
    client = link.client
    await client.execute_command("MEMORY", "PURGE")
    before = (await client.info("memory"))["used_memory"]
    for start in range(0, urls, 5000):
        members = [
            hashlib.sha1(f"https://movie.douban.com/subject/{n}/".encode()).hexdigest()
            for n in range(start, min(start + 5000, urls))
        ]
        await client.sadd("baseline:dupefilter", *members)
    await client.execute_command("MEMORY", "PURGE")
    after = (await client.info("memory"))["used_memory"]
    await client.delete("baseline:dupefilter")
    await link.close()
    return round((after - before) / urls, 2)


# -- per-request overhead ----------------------------------------------------------------


async def churn(frontier: Any, requests: int, settle_batch: int) -> float:
    """Seconds per request to add, lease and settle ``requests`` (settles batched as the engine)."""
    await frontier.open()
    started = time.perf_counter()
    for start in range(0, requests, 100):
        await frontier.add(
            [Request(f"http://127.0.0.1:9/p/{n}") for n in range(start, min(start + 100, requests))]
        )
    done = 0
    batch: list[Outcome] = []
    while done < requests:
        request = await frontier.lease(1.0)
        assert request is not None
        batch.append(Outcome(request, "done"))
        done += 1
        if len(batch) >= settle_batch or done == requests:
            await frontier.settle(batch)
            batch = []
    seconds = time.perf_counter() - started
    await frontier.close()
    return seconds / requests


async def ping_rtt(url: str, rounds: int = 2000) -> float:
    """Seconds per PING round trip: the unit Redis overhead is best read in."""
    link = RedisLink.connect(url)
    await link.client.ping()
    started = time.perf_counter()
    for _ in range(rounds):
        await link.client.ping()
    seconds = (time.perf_counter() - started) / rounds
    await link.close()
    return seconds


async def bench_overhead(url: str, requests: int) -> dict[str, Any]:
    await flush(url)
    rtt = await ping_rtt(url)
    memory = await churn(MemoryFrontier(), requests, 32)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await churn(SqliteStore(f"{tmp}/churn.db", fresh=True).frontier, requests, 32)
    redis1 = await churn(RedisFrontier(url, "bench-o1", prefetch=1), requests, 32)
    redis16 = await churn(RedisFrontier(url, "bench-o16", prefetch=16), requests, 32)
    return {
        "requests": requests,
        "memory_us_per_request": round(memory * 1e6, 1),
        "sqlite_us_per_request": round(sqlite * 1e6, 1),
        "redis_prefetch1_us_per_request": round(redis1 * 1e6, 1),
        "redis_prefetch16_us_per_request": round(redis16 * 1e6, 1),
        "redis_overhead_us_per_request(prefetch 16)": round((redis16 - memory) * 1e6, 1),
        "redis_minus_sqlite_us_per_request(prefetch 16)": round((redis16 - sqlite) * 1e6, 1),
        "ping_round_trip_us": round(rtt * 1e6, 1),
        "overhead_in_round_trips(prefetch 16)": round((redis16 - memory) / rtt, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


# -- pages/s with N worker processes ----------------------------------------------------------


def build_spider(start: str, **settings: Any) -> Crawler:
    """The flagship douban spider against the replica (no douban-host politeness)."""
    config = CrawlConfig(user_agent=BROWSER_USER_AGENT, **settings)
    return build_crawler([start], config=config, polite_to_douban=False)


@contextlib.contextmanager
def replica_process(movies: int, latency: float) -> Iterator[tuple[str, int]]:
    """``corocrawl serve-demo`` in a subprocess: the list page URL and the page count."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "corocrawl", "serve-demo", "--port", str(port),
         "--movies", str(movies), "--latency", f"{latency}-{latency}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(1000):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}/cinema/later/beijing/", movies + 1
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def run_workers(url: str, site: str, workers: int, concurrency: int, per_host: int) -> float:
    """Seconds from the first worker's start of crawling to the last one's end.

    Interpreter start-up (~0.5 s a process) is left out: it is not crawling.
    """
    asyncio.run(flush(url))
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "_worker", site, url, str(concurrency), str(per_host)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    spans = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"worker {proc.pid} exited {proc.returncode}")
            spans.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    return max(s["finished"] for s in spans) - min(s["started"] for s in spans)


def run_in_process(start: str, concurrency: int, per_host: int, store: str | None) -> float:
    """Seconds one process takes, in memory (``store=None``) or on a SQLite store file."""
    crawler = build_spider(start, concurrency=concurrency, per_host=per_host)
    if store is not None:
        sqlite = SqliteStore(store, fresh=True, item_key="subject_id")
        crawler.frontier = sqlite.frontier
        crawler.sinks = [sqlite.sink]
    stats = crawler.run(handle_signals=False)
    assert stats.finished is not None
    return stats.finished - stats.started


def bench_workers(
    url: str, counts: list[int], pages: int, latency: float, concurrency: int, per_host: int
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "latency_s": latency,
        "concurrency_per_worker": concurrency,
        "per_host_cap_across_workers": per_host,
        "cpus": os.cpu_count(),
    }
    with replica_process(pages - 1, latency) as (start, total):
        result["pages"] = total
        result["in_memory_1_process_pages_per_s"] = round(
            total / run_in_process(start, concurrency, per_host, None)
        )
        with tempfile.TemporaryDirectory() as tmp:
            seconds = run_in_process(start, concurrency, per_host, f"{tmp}/bench.db")
        result["sqlite_1_process_pages_per_s"] = round(total / seconds)
        for n in counts:
            seconds = run_workers(url, start, n, concurrency, per_host)
            result[f"redis_{n}_workers_pages_per_s"] = round(total / seconds)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    return result


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        site, url, concurrency, per_host = sys.argv[2:6]
        crawler = build_spider(site, concurrency=int(concurrency), per_host=int(per_host))
        stats = run_shared(crawler, RedisOptions(url, "bench-workers", lease_seconds=30))
        print(
            json.dumps({"started": stats.started, "finished": stats.finished, "pages": stats.pages})
        )
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Checked by hand: argparse on Python 3.11.7 checks a nargs="*" default
    # against `choices`, so `bench_redis.py` with no parts was refused.
    parser.add_argument("what", nargs="*", metavar="{dedup,overhead,workers}",
                        help="parts to run (default: all)")
    parser.add_argument("--redis", help="use this Redis (it is FLUSHED) instead of starting one")
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--baseline", action="store_true", help="also measure a SET of SHA1s")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--per-host", type=int, default=64)
    args = parser.parse_args()
    parts = ("dedup", "overhead", "workers")
    unknown = [part for part in args.what if part not in parts]
    if unknown:
        parser.error(f"unknown part {unknown[0]!r}: choose from {', '.join(parts)}")
    args.what = args.what or list(parts)
    with redis_server(args.redis) as url:
        if "dedup" in args.what:
            figures = asyncio.run(bench_dedup(url, args.urls))
            if args.baseline:
                figures["baseline_set_of_sha1_bytes_per_url"] = asyncio.run(
                    bench_set_baseline(url, args.urls)
                )
            print("dedup:", figures, flush=True)
        if "overhead" in args.what:
            print("overhead:", asyncio.run(bench_overhead(url, args.requests)), flush=True)
        if "workers" in args.what:
            figures = bench_workers(
                url, args.workers, args.pages, args.latency, args.concurrency, args.per_host
            )
            print("workers:", figures, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
