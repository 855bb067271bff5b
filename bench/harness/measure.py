"""Run one crawler as a child process and measure it: wall time, CPU time, peak RSS.

CPU time comes from ``os.wait4`` on that child (its own and its waited-for children's
user+system time). Peak RSS comes from ``/proc``, sampled every 100 ms over the whole
process tree: the larger of the summed ``VmRSS`` (what several processes hold at once)
and the sum of each process's own high-water mark ``VmHWM``. Not ``wait4``'s
``ru_maxrss``: Linux carries the parent's high-water mark across fork+exec into it, so
a big harness would show up as a big crawler.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_EVERY = 0.1


@dataclass(frozen=True, slots=True)
class Usage:
    """What one child process cost."""

    returncode: int
    wall: float
    cpu: float
    peak_rss_mb: float
    processes: int  # most processes seen at once in the tree
    start: float  # time.time() at launch
    end: float
    rss_samples: tuple[tuple[float, float], ...] = ()  # (time.time(), MB of the whole tree)

    def rss_between(self, start: float, end: float) -> float:
        """Peak sampled RSS (MB) of the tree between two ``time.time()`` instants."""
        return max((mb for t, mb in self.rss_samples if start <= t <= end), default=0.0)


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue  # it exited between the listing and the read
    return out


def _rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in kB; zeros once it has gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def run(
    cmd: list[str],
    *,
    cwd: Path | None = None,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
) -> Usage:
    """Run ``cmd`` to its end; its output goes to ``log`` (or is discarded).

    The end is taken from a blocking ``wait4``, not from the sampling loop: a
    child polled every 100 ms would be found gone up to 100 ms after it exited,
    which added ~50 ms on average to every wall time (and to "after last").
    """
    out = log.open("wb") if log else subprocess.DEVNULL
    try:
        start_wall, start = time.time(), time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = _Sampler(proc, start, timeout)
        sampler.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            end_wall, end = time.time(), time.monotonic()
            sampler.exited.set()
            sampler.join()
        wall = end - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it; tell Popen
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    return Usage(
        returncode=proc.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=sampler.peak_kb / 1024,
        processes=max(sampler.most, 1),
        start=start_wall,
        end=end_wall,
        rss_samples=tuple(sampler.samples),
    )


class _Sampler(threading.Thread):
    """Samples the child's process tree every ``SAMPLE_EVERY`` s until it exits;
    kills it (our own child, by PID) past ``timeout``."""

    def __init__(self, proc: subprocess.Popen[bytes], start: float, timeout: float) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.proc, self.start_time, self.timeout = proc, start, timeout
        self.exited = threading.Event()
        self.peak_kb = self.most = 0
        self.samples: list[tuple[float, float]] = []
        self.hwm_kb: dict[int, int] = {}

    def run(self) -> None:
        # Bounded: ends when the child exits, which the kill below forces past the timeout.
        while not self.exited.is_set():
            tree = _tree(self.proc.pid)
            self.most = max(self.most, len(tree))
            rss_kb = 0
            for p in tree:
                rss, hwm = _rss_kb(p)
                rss_kb += rss
                if hwm:
                    self.hwm_kb[p] = hwm
            self.peak_kb = max(self.peak_kb, rss_kb, sum(self.hwm_kb.values()))
            self.samples.append((time.time(), rss_kb / 1024))
            if time.monotonic() - self.start_time > self.timeout:
                self.proc.kill()
            self.exited.wait(SAMPLE_EVERY)
