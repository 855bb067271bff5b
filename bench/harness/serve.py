"""Serve a generated site: nginx (preferred), or an aiohttp server in its own process.

Both give the harness the server's own request log (``take_log()``), so a crawl's
span is measured where the pages are served: from the start of the first request
to the end of the last, without interpreter start-up or shutdown.

The aiohttp server also has a latency mode for the latency-bound run: each page
waits ``latency_of(path)`` seconds (50-250 ms, fixed per path) before it is sent.

Run as a script it is the fallback/latency server itself::

    python -m harness.serve --root SITE --port 8080 [--latency 0.05-0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Hit:
    """One served request, as the server logged it."""

    start: float
    end: float
    status: int
    size: int
    path: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def latency_of(path: str, lo: float, hi: float) -> float:
    """The fixed latency of ``path`` in [lo, hi] seconds; the same in server and harness."""
    return lo + (hi - lo) * (zlib.crc32(path.encode()) % 1000) / 999


def _wait_listening(
    port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


class Server:
    """A running server process; ``base`` is its URL, ``kind`` says which server it is."""

    kind: str
    base: str
    proc: subprocess.Popen[bytes]

    def take_log(self) -> list[Hit]:
        """Requests served since the last call."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server process (by its PID) and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_NGINX_CONF = """\
{user}daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    types {{ text/html html; text/plain txt; }}
    default_type text/html;
    charset utf-8;
    log_format timed '$msec $request_time $status $body_bytes_sent $request_uri';
    access_log {tmp}/access.log timed buffer=256k flush=5s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        location ~ "^/subject/\\d*(\\d{{4}})/$" {{ try_files /pool/$1.html =404; }}
        location / {{ index index.html; }}
    }}
}}
"""


class Nginx(Server):
    """Debian's nginx serving the site from disk, one worker process."""

    kind = "nginx"

    def __init__(self, root: Path, tmp: Path) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        # Started by root, nginx would run its worker as "nobody", who may not read a
        # site under a private temporary directory: keep the worker as the same user.
        user = "user root;\n" if os.geteuid() == 0 else ""
        port = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(
            _NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root), encoding="utf-8"
        )
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        with (tmp / "stderr.log").open("wb") as stderr:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.base = f"http://127.0.0.1:{port}"
        _wait_listening(port, self.proc, "nginx")
        self._rotation = 0

    def take_log(self) -> list[Hit]:
        log = self.tmp / "access.log"
        self._rotation += 1
        old = self.tmp / f"access.{self._rotation}.log"
        if log.exists():
            log.rename(old)
        else:
            old.touch()
        # USR1: nginx flushes its log buffer into the renamed file and reopens access.log.
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        hits = []
        for line in old.read_text(encoding="utf-8").splitlines():
            msec, rtime, status, size, path = line.split(" ", 4)
            end = float(msec)
            hits.append(Hit(end - float(rtime), end, int(status), int(size), path))
        old.unlink()
        return hits


class AiohttpServer(Server):
    """This module run as a script: the fallback static server, or the latency server."""

    def __init__(self, root: Path, latency: tuple[float, float] | None = None) -> None:
        self.kind = "aiohttp-latency" if latency else "aiohttp-fallback"
        port = free_port()
        cmd = [sys.executable, str(HERE / "serve.py"), "--root", str(root), "--port", str(port)]
        if latency:
            cmd += ["--latency", f"{latency[0]}-{latency[1]}"]
        self.proc = subprocess.Popen(cmd)
        self.base = f"http://127.0.0.1:{port}"
        _wait_listening(port, self.proc, "the aiohttp site server", timeout=60)

    def take_log(self) -> list[Hit]:
        with urllib.request.urlopen(self.base + "/__log", timeout=30) as r:
            rows = json.loads(r.read())
        return [Hit(*row) for row in rows]


def start(root: Path, tmp: Path, *, prefer_nginx: bool = True) -> Server:
    """nginx if it is installed (and wanted), else the aiohttp fallback server."""
    if prefer_nginx and (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        return Nginx(root, tmp)
    return AiohttpServer(root)


# --- the aiohttp server process -------------------------------------------------------------


def _serve(root: Path, port: int, latency: tuple[float, float] | None) -> None:
    from aiohttp import web

    pool = {p.stem: p.read_bytes() for p in (root / "pool").iterdir()}
    files = {
        "/" + str(p.parent.relative_to(root)) + "/": p.read_bytes()
        for p in root.glob("cinema/later/*/index.html")
    }
    files["/robots.txt"] = (root / "robots.txt").read_bytes()
    log: list[tuple[float, float, int, int, str]] = []

    async def page(request: web.Request) -> web.StreamResponse:
        start = time.time()
        path = request.path
        if path == "/__log":
            rows = log.copy()
            log.clear()
            return web.Response(body=json.dumps(rows).encode(), content_type="application/json")
        body = files.get(path)
        if body is None and path.startswith("/subject/") and path.endswith("/"):
            sid = path[len("/subject/") : -1]
            if sid.isdigit():
                body = pool.get(f"{int(sid) % 10_000:04d}")
        if latency is not None:
            await asyncio.sleep(latency_of(path, *latency))
        if body is None:
            resp = web.Response(status=404, text="not found")
        else:
            ctype = "text/plain" if path.endswith(".txt") else "text/html"
            resp = web.Response(body=body, content_type=ctype, charset="utf-8")
        log.append((start, time.time(), resp.status, len(body or b""), path))
        return resp

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", page)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", help="lo-hi seconds, e.g. 0.05-0.25")
    args = parser.parse_args()
    latency = tuple(float(x) for x in args.latency.split("-")) if args.latency else None
    _serve(args.root, args.port, latency)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
