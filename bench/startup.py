"""How long ``corocrawl --help`` takes, against a bare ``python -c pass``.

    .venv/bin/python bench/startup.py            # 20 runs each
    .venv/bin/python bench/startup.py --runs 50 --args status --help

Runs each command N times in fresh processes, alternating so both see the same
machine load, and prints the medians and the difference: the difference is
what corocrawl's own imports cost. The issue's budget: under 0.3 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from harness.runner import compile_bytecode


def _time_once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument("--args", nargs=argparse.REMAINDER, default=["--help"],
                        help="corocrawl arguments to time (default: --help)")
    options = parser.parse_args()
    compile_bytecode()  # as an installed corocrawl has it
    corocrawl = [sys.executable, "-m", "corocrawl", *options.args]
    baseline = [sys.executable, "-c", "pass"]
    timings: dict[str, list[float]] = {"corocrawl": [], "baseline": []}
    _time_once(corocrawl)  # warm the file cache and the .pyc files
    for _ in range(options.runs):
        timings["corocrawl"].append(_time_once(corocrawl))
        timings["baseline"].append(_time_once(baseline))
    ours = statistics.median(timings["corocrawl"])
    bare = statistics.median(timings["baseline"])
    shown = " ".join(["python -m corocrawl", *options.args])
    print(f"{shown:<40} median {ours * 1000:7.1f} ms  (min {min(timings['corocrawl']) * 1000:.1f})")
    print(f"{'python -c pass':<40} median {bare * 1000:7.1f} ms")
    print(f"{'corocrawl imports cost':<40}        {(ours - bare) * 1000:7.1f} ms "
          f"over {options.runs} runs; budget 300 ms total: {'ok' if ours < 0.3 else 'OVER'}")
    return 0 if ours < 0.3 else 1


if __name__ == "__main__":
    sys.exit(main())
