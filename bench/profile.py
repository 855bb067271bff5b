"""Where corocrawl's time goes: ``corocrawl douban`` on the generated site, under py-spy.

    python bench/profile.py                      # 5,000 pages, nginx, py-spy (cProfile without it)
    python bench/profile.py --pages 2000 --api   # the library API (in-memory) instead of the CLI
    python bench/profile.py --raw out.txt        # also keep py-spy's collapsed stacks
    python bench/profile.py --processes 2        # corocrawl douban --processes 2 (all processes)

Prints the CPU per page by area (HTML parse, aiohttp, spider, engine, store, ...) — µs per
page and share of samples — and the hottest frames. py-spy samples the real process at 250 Hz
and barely slows it. The event loop's thread is sampled whether it works or waits, so its
"µs per page" is wall time (waiting for the network shows as "event loop"); on these
CPU-bound crawls it waits little. Samples of other threads (SQLite's, pools') are an area
of their own, idle pool threads left out. Not ``--gil``: Lexbor parses without the GIL.
Sampling pauses the process and slows it, so µs per page is also given scaled to the CPU
time of the same crawl run again unprofiled. cProfile (the fallback) traces every call and
inflates small Python functions.
"""

from __future__ import annotations

import argparse
import collections
import os
import pstats
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import measure, runner, serve

#: Area of a sample: the innermost frame matching one of these, first match wins.
AREAS = (
    ("_parallel.py", "--processes: leases and commits between processes"),
    ("pickle", "--processes: leases and commits between processes"),
    ("Response.dom", "HTML parse (Response.dom, Lexbor)"),
    ("selectolax", "HTML parse (Response.dom, Lexbor)"),
    ("_douban_parse", "spider: field extraction (_douban_parse)"),
    ("_encoding", "decode bytes → str"),
    ("Response.text", "decode bytes → str"),
    ("Response._decoded", "decode bytes → str"),
    ("aiohttp", "HTTP: aiohttp client"),
    ("multidict", "HTTP: aiohttp client"),
    ("yarl", "URLs: yarl, canonical_url, urljoin"),
    ("canonical_url", "URLs: yarl, canonical_url, urljoin"),
    ("urljoin", "URLs: yarl, canonical_url, urljoin"),
    ("corocrawl/store/", "store: SQLite frontier + items"),
    ("frontier", "frontier"),
    ("sinks", "sinks"),
    ("_stats", "stats"),
    ("_request.py", "requests: Request, fingerprint, canonical_url"),
    ("_response.py", "Response: follow, urljoin, base_url"),
    ("_engine.py", "engine: worker loop, committer"),
    ("_politeness", "engine: politeness slots"),
    ("_fetcher.py", "engine: fetcher"),
    ("importlib", "start-up imports"),
    ("<frozen", "start-up imports"),
    ("corocrawl/", "engine (own code)"),
    ("asyncio", "event loop"),
    ("uvloop", "event loop"),
)


def area_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for key, area in AREAS:
            if key in frame:
                return area
    return "other"


def report_pyspy(raw: Path, top: int, pages: int, rate: int, cpu_us: float = 0.0) -> None:
    """Areas and hottest frames; ``cpu_us``: CPU µs per page of an unprofiled run, if known."""
    areas: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        n = int(count)
        if "_worker (concurrent/futures/thread.py" in frames[-1]:
            idle += n  # a pool thread waiting in queue.get(): not work
            continue
        total += n
        if frames[0].startswith("Thread._bootstrap (threading.py"):
            kind = "aiohttp trust_env: netrc/proxy" if "aiohttp" in line else "SQLite, pools"
            areas[f"other threads ({kind})"] += n
        else:
            areas[area_of(frames)] += n
        leaves[frames[-1]] += n
    us = 1e6 / rate / max(pages, 1)  # µs of CPU per page that one sample stands for
    print(
        f"\n| where | µs per page, profiled | µs per page, scaled to unprofiled CPU "
        f"| share of {total:,} samples |\n|---|---:|---:|---:|"
    )
    for area, n in areas.most_common():
        print(f"| {area} | {n * us:,.0f} | {cpu_us * n / total:,.0f} | {100 * n / total:.1f}% |")
    print(f"| **total** | **{total * us:,.0f}** | **{cpu_us:,.0f}** | 100% |")
    print(f"({idle:,} samples of idle thread-pool workers left out)")
    print("\nhottest frames (self time):")
    for frame, n in leaves.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {frame}")


def report_cprofile(stats_file: Path, top: int) -> None:
    stats = pstats.Stats(str(stats_file))
    stats.sort_stats("tottime").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--api", action="store_true", help="profile the library API, not the CLI")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--processes", type=int, default=1, help="corocrawl douban --processes N")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--parent-only", action="store_true", help="with --processes: sample only the parent"
    )
    args = parser.parse_args()

    tmp, the_site = runner.make_site(args.pages)
    try:
        with serve.start(the_site.root, tmp / "server") as server:
            lists = the_site.list_paths()
            out = tmp / "items.jsonl"
            if args.api:
                lists_file = tmp / "lists.txt"
                lists_file.write_text("\n".join(lists), encoding="utf-8")
                cmd = [
                    sys.executable,
                    str(runner.CRAWLERS / "corocrawl_api.py"),
                    "--base",
                    server.base,
                ]
                cmd += [
                    "--lists",
                    str(lists_file),
                    "--out",
                    str(out),
                    "--concurrency",
                    str(args.concurrency),
                ]
            else:
                cmd = runner.corocrawl_command(
                    server.base, lists, out, args.concurrency, args.processes
                )
            pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            env = {**os.environ, "PYTHONPATH": str(runner.SRC)}
            server.take_log()
            if Path(pyspy).exists():
                raw = args.raw or tmp / "profile.raw"
                subprocess.run(
                    [pyspy, "record", "--format", "raw", "-r", str(args.rate),
                     *([] if args.parent_only else ["--subprocesses"]),
                     "-o", str(raw), "--", *cmd],
                    env=env,
                    check=True,
                    stderr=subprocess.DEVNULL,
                )
                profiler = "py-spy"
            else:
                prof = tmp / "profile.pstats"
                subprocess.run(
                    [cmd[0], "-m", "cProfile", "-o", str(prof), *cmd[1:]], env=env, check=True
                )
                profiler = "cProfile (pip install py-spy for a sampling profile)"
            hits = server.take_log()
            usage = measure.run(cmd, env=env)  # again, unprofiled: its CPU time per page
            cpu_us = 1e6 * usage.cpu / max(len(server.take_log()), 1)
        span = max(h.end for h in hits) - min(h.start for h in hits)
        print(
            f"{'library API' if args.api else 'corocrawl douban'}: {len(hits):,} requests, "
            f"{len(hits) / span:,.0f} pages/s under {profiler}"
        )
        if profiler == "py-spy":
            report_pyspy(raw, args.top, len(hits), args.rate, cpu_us)
        else:
            report_cprofile(prof, args.top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
