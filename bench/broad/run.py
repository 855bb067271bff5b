# ruff: noqa: E501 - the report's table rows read best as one f-string each
"""Broad crawls (``make bench-broad``): corocrawl and Scrapy on a web of many loopback hosts.

Each scenario serves a fresh web (``web.py``), runs ``corocrawl crawl SEED --concurrency 64
--per-host 2`` as a child process, samples its RSS and open descriptors from /proc, and
reads from the servers which host was served when. Every figure is set against an ideal
computed from the web's own parameters:

    small       200 hosts × 30 pages at 50–200 ms        ideal = Σ latency ÷ min(64, 2 × hosts)
    slow        the same plus a slow host (2,000 pages at 0.5 s) linked first
                ideal = max(that, slow work ÷ 2); the small hosts alone: Σ small ÷ (64 − 2)
    delay       200 hosts × 30 pages, robots.txt Crawl-delay: 1      ideal rate = hosts ÷ delay
    hosts-2k    2,000 hosts × 1 page: RSS and sockets          (and hosts-20k: 20,000 hosts)
                (robots.txt answers at once on these, pages at 50–200 ms)
    hosts-2k-nofile1024, hosts-20k-nofile1024: the same under ``ulimit -n 1024``

    python bench/broad/run.py                              # every scenario, corocrawl and Scrapy
    python bench/broad/run.py --only small,hosts-2k --crawlers corocrawl
    python bench/broad/run.py --only slow,delay --time-budget 300   # stop each crawl after 300 s

``--time-budget`` passes ``--max-time`` to the crawler (CLOSESPIDER_TIMEOUT to Scrapy): rates
stay meaningful, and a crawl that was stopped says so. Results go to bench/out/broad.json. "wall" is the whole crawler process, start-up included;
"span" is the servers' view, from the seed's request to the last page served.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

from harness import runner, venvs  # noqa: E402

from broad.web import SEED, SLOW, BroadWeb, WebSpec, ideal_seconds  # noqa: E402

OUT = BENCH / "out"
SAMPLE_EVERY = 0.25
SOCKET_SLACK = 16  # "concurrency + a small constant": robots, the store, the event loop


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    spec: WebSpec
    nofile: int | None = None  # the crawler's soft RLIMIT_NOFILE (None: as inherited)


def scenarios(hosts: int, pages: int, slow_pages: int, many: list[int]) -> dict[str, Scenario]:
    out = {
        "small": Scenario("small", WebSpec(hosts, pages)),
        "slow": Scenario("slow", WebSpec(hosts, pages, slow_pages=slow_pages)),
        "delay": Scenario("delay", WebSpec(hosts, pages, crawl_delay=1.0)),
    }
    for n in many:
        label = f"{n // 1000}k" if n % 1000 == 0 else str(n)
        # robots.txt answers at once here: these runs measure memory and sockets, and a
        # crawler that fetches robots.txt one host at a time would spend 20,000 × 0.125 s.
        spec = WebSpec(n, 1, robots_latency=0.0)
        out[f"hosts-{label}"] = Scenario(f"hosts-{label}", spec)
        out[f"hosts-{label}-nofile1024"] = Scenario(f"hosts-{label}-nofile1024", spec, nofile=1024)
    return out


@dataclass(slots=True)
class Watch:
    """What the crawler process cost, sampled from /proc."""

    returncode: int = 0
    wall: float = 0.0
    peak_rss_mb: float = 0.0
    peak_fds: int = 0
    peak_sockets: int = 0
    cpu: float = 0.0  # the crawler's user + system CPU seconds (last sample)
    killed: bool = False
    rss: list[tuple[float, float]] = field(default_factory=list)  # (time.time(), VmRSS MB)


def _sample(pid: int, watch: Watch) -> None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    watch.peak_rss_mb = max(watch.peak_rss_mb, int(line.split()[1]) / 1024)
                elif line.startswith("VmRSS:"):
                    watch.rss.append((time.time(), int(line.split()[1]) / 1024))
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        watch.cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return  # it has exited between two samples
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # closed while we looked
    watch.peak_fds = max(watch.peak_fds, len(fds))
    watch.peak_sockets = max(watch.peak_sockets, sockets)


def watch_run(cmd: list[str], *, log: Path, nofile: int | None, timeout: float) -> Watch:
    """Run ``cmd`` to its end (killed, by its PID, after ``timeout``), sampling it."""

    def limit() -> None:
        if nofile is not None:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))

    watch = Watch()
    with log.open("wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit)
        while proc.poll() is None:
            _sample(proc.pid, watch)
            if time.monotonic() - start > timeout and not watch.killed:
                proc.kill()
                watch.killed = True
            time.sleep(SAMPLE_EVERY)
        watch.wall = time.monotonic() - start
        watch.returncode = proc.returncode
    return watch


@dataclass(slots=True)
class Result:
    crawler: str
    scenario: str
    hosts: int
    pages: int  # distinct pages the servers served, the seed included
    expected: int
    wall: float
    ideal: float
    pages_per_s: float
    ratio: float  # wall ÷ ideal (delay: measured rate ÷ ideal rate)
    peak_rss_mb: float
    peak_fds: int
    peak_sockets: int
    cpu: float  # crawler CPU seconds: near wall means it was bound by one core
    span: float  # the servers' view: seed request to last page served
    in_flight: float  # mean requests in flight, from the servers' busy time
    returncode: int
    stopped: bool  # by --time-budget or the timeout
    ideal_rate: float = 0.0
    small_done: float | None = None  # slow scenario: when the last small host finished
    small_ideal: float = 0.0
    slow_done: float | None = None
    idle_host_kb: float | None = None  # RSS growth per host finished, after the first 10 %
    notes: list[str] = field(default_factory=list)


def crawl_command(crawler: str, web: BroadWeb, tmp: Path, args: argparse.Namespace, delay: float | None) -> list[str] | None:
    if crawler == "corocrawl":
        cmd = [sys.executable, "-m", "corocrawl", "crawl", web.seed, "--concurrency", str(args.concurrency),
               "--per-host", str(args.per_host), "--db", str(tmp / "broad.db"), "--fresh", "-q"]
        for address in web.addresses:
            if address != "127.0.0.1":  # scope is by host name: the seed's covers its ports
                cmd += ["--allow-domain", address]
        if args.time_budget:
            cmd += ["--max-time", str(args.time_budget)]
        return cmd + args.corocrawl_args.split()
    python = venvs.ensure("scrapy")
    if python is None:
        return None
    cmd = [str(python), str(Path(__file__).with_name("scrapy_broad.py")), web.seed,
           "--concurrency", str(args.concurrency), "--per-host", str(args.per_host)]
    if delay:
        cmd += ["--delay", str(delay)]
    if args.time_budget:
        cmd += ["--max-time", str(args.time_budget)]
    return cmd


def measure(crawler: str, scenario: Scenario, args: argparse.Namespace, tmp: Path) -> Result | None:
    spec = scenario.spec
    with BroadWeb(spec, tmp / f"web-{crawler}-{scenario.name}") as web:
        cmd = crawl_command(crawler, web, tmp, args, spec.crawl_delay)
        if cmd is None:
            return None
        log = tmp / f"{crawler}-{scenario.name}.log"
        watch = watch_run(cmd, log=log, nofile=scenario.nofile, timeout=args.timeout)
        stats = web.stop()
    hosts = spec.host_ids
    pages = sum(int(s["paths"]) for s in stats.values())
    t0 = stats[SEED]["first"] if stats.get(SEED) else 0.0
    last = max((s["last"] for s in stats.values()), default=t0)
    busy = sum(s["busy"] for s in stats.values())
    ideal = ideal_seconds(spec, hosts, args.concurrency, args.per_host)
    result = Result(
        crawler=crawler, scenario=scenario.name, hosts=len(hosts), pages=pages, expected=spec.pages_total,
        wall=watch.wall, ideal=ideal, pages_per_s=pages / watch.wall if watch.wall else 0.0,
        ratio=watch.wall / ideal if ideal else 0.0, peak_rss_mb=watch.peak_rss_mb, peak_fds=watch.peak_fds,
        peak_sockets=watch.peak_sockets, cpu=watch.cpu, span=last - t0, in_flight=busy / (last - t0) if last > t0 else 0.0,
        returncode=watch.returncode, stopped=watch.killed or (bool(args.time_budget) and pages < spec.pages_total),
    )
    result.idle_host_kb = idle_host_growth(watch, [stats[h]["last"] for h in hosts if h in stats])
    if spec.crawl_delay:
        small = [h for h in hosts if h != SLOW]
        result.ideal_rate = len(small) / spec.crawl_delay
        result.ratio = result.pages_per_s / result.ideal_rate
    if spec.slow_pages:
        small = [h for h in hosts if h != SLOW]
        result.small_ideal = ideal_seconds(spec, small, args.concurrency - args.per_host, args.per_host)
        if all(stats.get(h, {}).get("paths", 0) == len(spec.pages_of(h)) for h in small):
            result.small_done = max(stats[h]["last"] for h in small) - t0
        if stats.get(SLOW, {}).get("paths", 0) == spec.slow_pages:
            result.slow_done = stats[SLOW]["last"] - t0
        small_started = [stats[h]["first_page"] - t0 for h in small if stats.get(h, {}).get("first_page")]
        if small_started:
            result.notes.append(f"first small-host page at {min(small_started):.1f} s")
        else:
            result.notes.append("no small host got a page request")
    if pages < spec.pages_total:
        result.notes.append(f"{spec.pages_total - pages:,} of {spec.pages_total:,} pages not fetched")
    if result.idle_host_kb is not None and spec.pages == 1:
        result.notes.append(f"RSS growth per host gone idle {result.idle_host_kb:.2f} KB")
    if watch.returncode not in (0, None) and not watch.killed:
        result.notes.append(f"exit status {watch.returncode} (log: {log})")
    return result


def idle_host_growth(watch: Watch, finished: list[float]) -> float | None:
    """KB of RSS per host that finished, from when 10 % were done to the end.

    The peak-RSS comparison of two webs also counts one-off costs that grow with
    the web, such as parsing a seed page with 20,000 links; this counts only what
    stays behind as hosts are crawled and go idle.
    """
    finished = sorted(finished)
    if len(finished) < 100 or not watch.rss:
        return None
    start = finished[len(finished) // 10]
    later = [mb for t, mb in watch.rss if t >= start]
    if not later:
        return None
    done = len(finished) - len(finished) // 10
    return (max(later) - later[0]) * 1024 / done


def _s(x: float | None) -> str:
    return "—" if x is None else f"{x:,.1f} s"


def row(r: Result) -> str:
    if r.ideal_rate:
        figure = f"{r.pages_per_s:,.1f} pages/s | {r.ideal_rate:,.0f} pages/s | {r.ratio:.2f}×"
    else:
        figure = f"{r.wall:,.1f} s | {r.ideal:,.1f} s | {r.ratio:.2f}×"
    extra = ""
    if r.small_ideal:
        extra = f"small hosts done {_s(r.small_done)} (own ideal {r.small_ideal:.1f} s), slow host done {_s(r.slow_done)}; "
    notes = extra + "; ".join(r.notes) + ("; stopped by the time budget" if r.stopped else "")
    return (f"| {r.scenario} | {r.crawler} | {r.pages:,}/{r.expected:,} | {figure} | {r.pages_per_s:,.1f} "
            f"| {r.span:,.1f} s | {r.in_flight:.1f} | {r.cpu:,.1f} s | {r.peak_rss_mb:,.0f} MB | {r.peak_fds:,} / {r.peak_sockets:,} | {notes} |")


HEADER = ("| scenario | crawler | pages | wall (or rate) | ideal | ratio | pages/s | span | in flight | CPU | peak RSS | peak fds / sockets | notes |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def targets(results: list[Result], concurrency: int) -> list[str]:
    """The issue's targets for corocrawl, each met, missed (by how much) or not measured."""
    ours = {r.scenario: r for r in results if r.crawler == "corocrawl"}
    lines: list[str] = []

    def verdict(name: str, ok: bool | None, detail: str) -> None:
        mark = "not measured" if ok is None else ("met" if ok else "MISSED")
        lines.append(f"- {name}: {mark} — {detail or 'scenario not run'}")

    small = ours.get("small")
    verdict("small hosts ≤ 1.5× ideal", None if small is None else small.ratio <= 1.5 and not small.stopped,
            "" if small is None else f"{small.ratio:.2f}× ({small.wall:.1f} s vs {small.ideal:.1f} s)")
    slow = ours.get("slow")
    if slow is None:
        verdict("slow host: small hosts within 2× their ideal while it runs", None, "")
        verdict("slow host: total ≤ 1.15× ideal", None, "")
    else:
        in_time = slow.small_done is not None and slow.small_done <= 2 * slow.small_ideal and (
            slow.slow_done is None or slow.small_done <= slow.slow_done)
        verdict("slow host: small hosts within 2× their ideal while it runs", in_time,
                f"done at {_s(slow.small_done)} vs 2 × {slow.small_ideal:.1f} s; slow host done {_s(slow.slow_done)}")
        verdict("slow host: total ≤ 1.15× ideal", slow.ratio <= 1.15 and not slow.stopped,
                f"{slow.ratio:.2f}× ({slow.wall:.1f} s vs {slow.ideal:.1f} s)" + (" (stopped by budget)" if slow.stopped else ""))
    delay = ours.get("delay")
    verdict("Crawl-delay web ≥ 0.7× ideal rate", None if delay is None else delay.ratio >= 0.7,
            "" if delay is None else f"{delay.pages_per_s:.1f} of {delay.ideal_rate:.0f} pages/s = {delay.ratio:.2f}×")
    many = sorted((r for r in ours.values() if r.scenario.startswith("hosts-") and "nofile" not in r.scenario),
                  key=lambda r: r.hosts)
    if len(many) >= 2 and many[-1].hosts > many[0].hosts:
        lo, hi = many[0], many[-1]
        per_host_kb = (hi.peak_rss_mb - lo.peak_rss_mb) * 1024 / (hi.hosts - lo.hosts)
        steady = "" if hi.idle_host_kb is None else (
            f"; of which {hi.idle_host_kb:.2f} KB stays per host crawled after the first 10 % "
            f"(the rest is one-off, e.g. the seed page's {hi.hosts:,} links)")
        verdict("RSS growth per idle host ≤ 1 KB", per_host_kb <= 1.0,
                f"{per_host_kb:.1f} KB per host (peak RSS {lo.peak_rss_mb:.0f} MB at {lo.hosts:,} hosts → {hi.peak_rss_mb:.0f} MB at {hi.hosts:,}){steady}")
    else:
        verdict("RSS growth per idle host ≤ 1 KB", None, "needs two hosts-N scenarios")
    if ours:
        worst = max(ours.values(), key=lambda r: r.peak_sockets)
        verdict(f"open sockets ≤ concurrency + {SOCKET_SLACK}", worst.peak_sockets <= concurrency + SOCKET_SLACK,
                f"peak {worst.peak_sockets:,} ({worst.scenario})")
    for r in ours.values():
        if r.scenario.endswith("nofile1024"):
            verdict(f"{r.hosts:,} hosts under ulimit -n 1024 complete", r.pages == r.expected,
                    f"{r.pages:,} of {r.expected:,} pages")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--crawlers", default="corocrawl,scrapy")
    parser.add_argument("--hosts", type=int, default=200, help="small hosts (default 200)")
    parser.add_argument("--pages", type=int, default=30, help="pages per small host (default 30)")
    parser.add_argument("--slow-pages", type=int, default=2000, help="pages of the slow host (default 2000)")
    parser.add_argument("--many", default="2000,20000", help="host counts of the 1-page scenarios")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--time-budget", type=float, default=0.0, help="stop each crawl after this many seconds")
    parser.add_argument("--timeout", type=float, default=3600.0, help="kill a crawl after this many seconds")
    parser.add_argument("--corocrawl-args", default="", metavar="ARGS",
                        help="more options for corocrawl crawl, e.g. '--no-autothrottle'")
    parser.add_argument("--json", type=Path, default=OUT / "broad.json")
    args = parser.parse_args(argv)
    runner.compile_bytecode()  # as an installed corocrawl has it
    many = [int(n) for n in args.many.split(",") if n]
    table = scenarios(args.hosts, args.pages, args.slow_pages, many)
    names = args.only.split(",") if args.only else list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(table)}")
    print(f"# Broad crawls: --concurrency {args.concurrency} --per-host {args.per_host}, {os.cpu_count()} cores, "
          f"ulimit -n {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-broad-") as tmpdir:
        for name in names:
            for crawler in args.crawlers.split(","):
                scenario = table[name]
                if crawler == "scrapy" and scenario.nofile is not None:
                    continue  # the fd-limit runs are corocrawl's target, not a comparison
                print(f"  {name} / {crawler}: {scenario.spec.pages_total:,} pages on {len(scenario.spec.host_ids):,} hosts ...", flush=True)
                result = measure(crawler, scenario, args, Path(tmpdir))
                if result is None:
                    print(f"  {crawler}: not installable, skipped")
                    continue
                results.append(result)
                print(row(result), flush=True)
    print()
    print(HEADER)
    for r in results:
        print(row(r))
    print()
    print("Targets (corocrawl):")
    for line in targets(results, args.concurrency):
        print(line)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
