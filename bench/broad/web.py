"""A web of many hosts on loopback, served by one process per few thousand hosts.

Each host is one listening socket: hosts ``h0 … h{n-1}`` take the ports of 127.0.0.1,
then of 127.1.0.1, 127.1.0.2 … (``hosts_per_address`` each), so crawlers that key
their politeness by ``host:port`` see one host per socket. A seed host links to every
host's index page (the slow host first, when there is one); each index links to its
host's other pages. Every response waits a latency fixed by the host and path, so
the ideal crawl time follows from the web's own parameters (``ideal_seconds``).

One process can hold only as many listening sockets as its open-file limit allows
(``ulimit -Hn``; 20,000 on the benchmark machine), and every connection a crawler keeps
open costs it one more. So the hosts are sharded: one server process per
``hosts_per_shard`` hosts, each raising its soft limit to the hard one. Sockets are
bound to loopback addresses only, never to 0.0.0.0.

The servers record, per host, the pages served and the first and last request times
(``time.time()``), which the runner reads to see which hosts finished when.

    python bench/broad/web.py --hosts 200 --pages 30       # serve until Ctrl-C
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

SEED = "seed"
SLOW = "slow"
READY_TIMEOUT = 300.0  # seconds for all shards to bind their sockets
STOP_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class WebSpec:
    """The shape of the web: hosts, pages per host, latencies, robots.txt."""

    hosts: int
    pages: int  # per small host, its index page included
    latency: tuple[float, float] = (0.05, 0.2)
    slow_pages: int = 0  # 0: no slow host
    slow_latency: float = 0.5
    crawl_delay: float | None = None  # robots.txt Crawl-delay on every host
    robots_latency: float | None = None  # None: as the host's index page
    hosts_per_address: int = 1000
    hosts_per_shard: int = 4000

    @property
    def host_ids(self) -> list[str]:
        """Every host that holds pages, the slow one first (as the seed links them)."""
        small = [f"h{i}" for i in range(self.hosts)]
        return [SLOW, *small] if self.slow_pages else small

    def pages_of(self, host: str) -> list[str]:
        """The paths of ``host``: its index, then ``/p/1 …``."""
        if host == SEED:
            return ["/"]
        count = self.slow_pages if host == SLOW else self.pages
        return ["/", *(f"/p/{k}" for k in range(1, count))]

    def latency_of(self, host: str, path: str) -> float:
        """The fixed latency of one page: uniform in ``latency`` by a hash of host and path."""
        if host == SEED:
            return 0.0
        if host == SLOW:
            return self.slow_latency
        lo, hi = self.latency
        frac = zlib.crc32(f"{host}{path}".encode()) / 2**32
        return lo + (hi - lo) * frac

    def work_of(self, host: str) -> float:
        """Seconds of latency in all of ``host``'s pages."""
        return sum(self.latency_of(host, p) for p in self.pages_of(host))

    @property
    def shards(self) -> int:
        return max(1, -(-self.hosts // self.hosts_per_shard))

    def shard_of(self, host: str) -> int:
        if host in (SEED, SLOW):
            return 0
        return int(host[1:]) // self.hosts_per_shard

    def address_of(self, host: str) -> str:
        if host in (SEED, SLOW):
            return "127.0.0.1"
        k = int(host[1:]) // self.hosts_per_address
        return "127.0.0.1" if k == 0 else f"127.1.{k // 250}.{k % 250 + 1}"

    @property
    def pages_total(self) -> int:
        """Pages a complete crawl fetches, the seed included (robots.txt not)."""
        return 1 + sum(len(self.pages_of(h)) for h in self.host_ids)


def ideal_seconds(spec: WebSpec, hosts: list[str], concurrency: int, per_host: int) -> float:
    """The shortest possible crawl of ``hosts``: all their latency spread over the usable
    concurrency, but no host faster than its own work over ``per_host``."""
    usable = min(concurrency, per_host * len(hosts)) or 1
    total = sum(spec.work_of(h) for h in hosts) / usable
    longest = max((spec.work_of(h) / per_host for h in hosts), default=0.0)
    return max(total, longest)


# --- one shard: a server process -------------------------------------------------------


@dataclass(slots=True)
class HostLog:
    """What one host served."""

    paths: set[str] = field(default_factory=set)
    hits: int = 0
    robots: int = 0
    busy: float = 0.0  # seconds spent serving pages, summed over requests
    first: float = 0.0  # any request, robots.txt included
    first_page: float = 0.0
    last: float = 0.0


def _raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _page(title: str, links: list[str]) -> str:
    items = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    head = f"<!doctype html><html><head><title>{title}</title></head>"
    return f"{head}<body><ul>{items}</ul></body></html>"


async def _serve_shard(spec: WebSpec, shard: int, workdir: Path) -> None:
    from aiohttp import web  # the shard's own import: the module loads without aiohttp

    hosts = [h for h in ([SEED, *spec.host_ids]) if spec.shard_of(h) == shard]
    logs = {h: HostLog() for h in hosts}
    by_socket: dict[tuple[str, int], str] = {}
    seed_links: list[str] = []
    robots = "User-agent: *\nAllow: /\n"
    if spec.crawl_delay is not None:
        robots += f"Crawl-delay: {spec.crawl_delay:g}\n"

    async def handle(request: web.Request) -> web.Response:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        host = by_socket.get((sockname[0], sockname[1])) if sockname else None
        if host is None:
            return web.Response(status=421, text="unknown host")
        log = logs[host]
        start = time.time()
        log.first = log.first or start
        path = request.path
        if path == "/robots.txt":
            log.robots += 1
            delay = spec.robots_latency
            await asyncio.sleep(spec.latency_of(host, "/") if delay is None else delay)
            return web.Response(text=robots)
        if path not in spec.pages_of(host):
            return web.Response(status=404, text="not found")
        await asyncio.sleep(spec.latency_of(host, path))
        if host == SEED:
            if not seed_links:  # written by the parent once every shard is listening
                seed_links.extend(json.loads((workdir / "hosts.json").read_text())["urls"])
            body = _page("seed", seed_links)
        elif path == "/":
            body = _page(f"{host} index", spec.pages_of(host)[1:])
        else:
            body = _page(f"{host} {path}", [])
        end = time.time()
        log.first_page = log.first_page or start
        log.paths.add(path)
        log.hits += 1
        log.busy += end - start
        log.last = end
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    bound: dict[str, str] = {}
    try:
        for host in hosts:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((spec.address_of(host), 0))
            sock.listen(256)
            address, port = sock.getsockname()
            by_socket[(address, port)] = host
            bound[host] = f"{address}:{port}"
            await web.SockSite(runner, sock).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        ready = workdir / f"ready-{shard}.json"
        ready.with_suffix(".tmp").write_text(json.dumps(bound))
        ready.with_suffix(".tmp").rename(ready)
        await stop.wait()
    finally:
        await runner.cleanup()
    stats = {h: {**asdict(log), "paths": len(log.paths)} for h, log in logs.items()}
    out = workdir / f"stats-{shard}.json"
    out.with_suffix(".tmp").write_text(json.dumps(stats))
    out.with_suffix(".tmp").rename(out)


# --- the whole web: shards as child processes -------------------------------------------


class BroadWeb:
    """Serve ``spec`` from child processes; ``with BroadWeb(spec) as web: web.seed``."""

    def __init__(self, spec: WebSpec, workdir: Path | None = None) -> None:
        self.spec = spec
        self._tmp = tempfile.TemporaryDirectory(prefix="broadweb-") if workdir is None else None
        self.workdir = Path(self._tmp.name) if self._tmp else workdir  # type: ignore[assignment]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.netloc: dict[str, str] = {}
        self.started = 0.0

    @property
    def seed(self) -> str:
        return f"http://{self.netloc[SEED]}/"

    @property
    def addresses(self) -> list[str]:
        """The distinct addresses the hosts listen on (for a crawler's allowed domains)."""
        return sorted({n.rsplit(":", 1)[0] for n in self.netloc.values()})

    def start(self) -> None:
        (self.workdir / "spec.json").write_text(json.dumps(asdict(self.spec)))
        for shard in range(self.spec.shards):
            cmd = [sys.executable, __file__, "--shard", str(shard), "--workdir", str(self.workdir)]
            self.procs.append(subprocess.Popen(cmd))
        deadline = time.monotonic() + READY_TIMEOUT
        for shard, proc in enumerate(self.procs):
            ready = self.workdir / f"ready-{shard}.json"
            while not ready.exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"web shard {shard} exited with {proc.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"web shard {shard} not listening in {READY_TIMEOUT:.0f} s")
                time.sleep(0.05)
            self.netloc.update(json.loads(ready.read_text()))
        urls = [f"http://{self.netloc[h]}/" for h in self.spec.host_ids]
        (self.workdir / "hosts.json").write_text(json.dumps({"urls": urls}))
        self.started = time.time()

    def stop(self) -> dict[str, dict[str, float]]:
        """Stop every shard (by its PID); the per-host logs they wrote, merged."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        stats: dict[str, dict[str, float]] = {}
        for shard, proc in enumerate(self.procs):
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
            out = self.workdir / f"stats-{shard}.json"
            if out.exists():
                stats.update(json.loads(out.read_text()))
        self.procs.clear()
        return stats

    def __enter__(self) -> BroadWeb:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


def _shard_main(shard: int, workdir: Path) -> None:
    raw = json.loads((workdir / "spec.json").read_text())
    raw["latency"] = tuple(raw["latency"])
    spec = WebSpec(**raw)
    _raise_nofile()
    asyncio.run(_serve_shard(spec, shard, workdir))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shard", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--pages", type=int, default=30, help="pages per host (default 30)")
    parser.add_argument("--slow-pages", type=int, default=0, help="a slow host of N pages at 0.5 s")
    parser.add_argument("--crawl-delay", type=float, help="robots.txt Crawl-delay on every host")
    args = parser.parse_args(argv)
    if args.shard is not None:
        _shard_main(args.shard, args.workdir)
        return
    spec = WebSpec(args.hosts, args.pages, slow_pages=args.slow_pages, crawl_delay=args.crawl_delay)
    with BroadWeb(spec) as web:
        size = f"{spec.pages_total:,} pages on {len(spec.host_ids):,} hosts"
        print(f"seed: {web.seed}  ({size}; Ctrl-C stops)")
        try:
            while all(p.poll() is None for p in web.procs):
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
