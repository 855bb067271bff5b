"""Where corocrawl's time goes: ``corocrawl douban`` on the generated site, under py-spy.

    python bench/profile.py                      # 5,000 pages, nginx, py-spy (cProfile without it)
    python bench/profile.py --pages 2000 --api   # the library API (in-memory) instead of the CLI
    python bench/profile.py --raw out.txt        # also keep py-spy's collapsed stacks

Prints the share of samples by area (HTML parse, aiohttp, spider, engine, store, ...) and
the hottest frames. py-spy samples the real process at 250 Hz and barely slows it;
cProfile (the fallback) traces every call and inflates small Python functions.
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

from harness import runner, serve

#: Area of a sample: the innermost frame matching one of these, first match wins.
AREAS = (
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


def report_pyspy(raw: Path, top: int) -> None:
    areas: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        n = int(count)
        if "_worker (concurrent/futures/thread.py" in frames[-1]:
            idle += n  # a pool thread waiting in queue.get(): not work
            continue
        total += n
        areas[area_of(frames)] += n
        leaves[frames[-1]] += n
    print(f"\n| where | share of {total:,} samples |\n|---|---:|")
    for area, n in areas.most_common():
        print(f"| {area} | {100 * n / total:.1f}% |")
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
                cmd = runner.corocrawl_command(server.base, lists, out, args.concurrency, 1)
            pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            env = {**os.environ, "PYTHONPATH": str(runner.SRC)}
            server.take_log()
            if Path(pyspy).exists():
                raw = args.raw or tmp / "profile.raw"
                subprocess.run(
                    [pyspy, "record", "--format", "raw", "-r", "250", "-o", str(raw), "--", *cmd],
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
        span = max(h.end for h in hits) - min(h.start for h in hits)
        print(
            f"{'library API' if args.api else 'corocrawl douban'}: {len(hits):,} requests, "
            f"{len(hits) / span:,.0f} pages/s under {profiler}"
        )
        if profiler == "py-spy":
            report_pyspy(raw, args.top)
        else:
            report_cprofile(prof, args.top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
